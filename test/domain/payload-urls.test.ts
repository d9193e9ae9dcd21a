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

  it.each([["a number", 1], ["zero", 0], ["text", "x"], ["a list", [3]]])(
    "gives back a field of the marker's name that GitHub sent (%s), on a repository and its owner",
    (_label, sent) => {
      const run = clone(runs[0]!);
      const repository = run.repository as Record<string, unknown>;
      repository[OMITTED_URLS_FIELD] = sent;
      (repository.owner as Record<string, unknown>)[OMITTED_URLS_FIELD] = sent;
      const stored = JSON.parse(JSON.stringify(omitDerivedUrls(run)));
      // Nothing is left out beside it; the owner, which holds one too, keeps its URLs as well.
      expect(stored.repository.issues_url).toBe(repository.issues_url);
      expect(restoreDerivedUrls(stored)).toEqual(run);
    },
  );

  it("keeps a field named __proto__ as a field, and restores only a sound marker", () => {
    const run = JSON.parse(JSON.stringify(runs[0]!).replace('"repository":{', '"repository":{"__proto__":{"polluted":true},'));
    const stored = JSON.parse(JSON.stringify(omitDerivedUrls(run)));
    expect(Object.hasOwn(stored.repository, "__proto__")).toBe(true);
    expect(stored.repository.polluted).toBeUndefined();
    const restored = restoreDerivedUrls(stored) as Record<string, Record<string, unknown>>;
    expect(Object.hasOwn(restored.repository!, "__proto__")).toBe(true);
    expect(JSON.stringify(restored)).toBe(JSON.stringify(restoreDerivedUrls(JSON.parse(JSON.stringify(restored)))));
    for (const marker of [-1, 1.5, 2 ** 40, "1"]) {
      const odd = clone(stored);
      odd.repository[OMITTED_URLS_FIELD] = marker;
      expect((restoreDerivedUrls(odd) as typeof odd).repository[OMITTED_URLS_FIELD]).toBe(marker);
    }
    expect(restoreDerivedUrls(null)).toBeNull();
    expect(omitDerivedUrls("text")).toBe("text");
  });
});
