import { describe, expect, it } from "vitest";
import { OMITTED_URLS_FIELD, omitDerivedUrls, restoreDerivedUrls } from "../../src/domain/payload-urls.js";
import { clone, workflowExamples } from "../helpers/webhook-examples.js";

const runs = workflowExamples()
  .filter((e) => e.event === "workflow_run")
  .map((e) => (e.payload as { workflow_run: Record<string, unknown> }).workflow_run);

describe("a run's payload without its derived URLs", () => {
  it.each(runs.map((run, i) => [i, run] as const))("gives back what GitHub sent (example %i)", (_i, run) => {
    const stored = omitDerivedUrls(clone(run));
    expect(restoreDerivedUrls(JSON.parse(JSON.stringify(stored)))).toEqual(run);
  });

  it("is under 40% of the text, and keeps what readers look up in it", () => {
    for (const run of runs) {
      const stored = omitDerivedUrls(run) as Record<string, Record<string, unknown>>;
      expect(JSON.stringify(stored).length).toBeLessThan(JSON.stringify(run).length * 0.4);
      const repository = run.repository as Record<string, unknown>;
      expect(stored.repository!.full_name).toBe(repository.full_name);
      expect(stored.repository!.html_url).toBe(repository.html_url);
      expect(stored.repository!.url).toBe(repository.url);
      expect(stored.repository!.issues_url).toBeUndefined();
      expect((stored.repository!.owner as Record<string, unknown>).followers_url).toBeUndefined();
      // The run's own fields are not derived from an object's url: all kept.
      for (const field of Object.keys(run)) expect(stored[field]).toBeDefined();
    }
  });

  it("keeps a URL that is not the object's url and its usual suffix, and objects without a url", () => {
    const run = clone(runs[0]!);
    const repository = run.repository as Record<string, unknown>;
    repository.issues_url = "https://example.com/elsewhere{/number}";
    repository.pulls_url = `${repository.url as string}/pulls{/number}/extra`;
    run.actor = { login: "bot", followers_url: "https://api.github.com/users/bot/followers" };
    const stored = omitDerivedUrls(run) as Record<string, Record<string, unknown>>;
    expect(stored.repository!.issues_url).toBe("https://example.com/elsewhere{/number}");
    expect(stored.repository!.pulls_url).toBe(repository.pulls_url);
    expect(stored.repository!.labels_url).toBeUndefined();
    expect(stored.actor).toEqual(run.actor);
    expect(restoreDerivedUrls(stored)).toEqual(run);
  });

  it("leaves an object that already holds the marker whole, and restores only a sound marker", () => {
    const run = clone(runs[0]!);
    (run.repository as Record<string, unknown>)[OMITTED_URLS_FIELD] = "x";
    const stored = omitDerivedUrls(run) as Record<string, Record<string, unknown>>;
    expect(stored.repository).toEqual(run.repository);
    expect(restoreDerivedUrls(stored)).toEqual(run);
    expect(restoreDerivedUrls(null)).toBeNull();
    expect(omitDerivedUrls("text")).toBe("text");
  });
});
