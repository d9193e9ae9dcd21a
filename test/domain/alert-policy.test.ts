import { describe, expect, it } from "vitest";
import { decideAlert, type BranchState } from "../../src/domain/alert-policy.js";
import { matches, routeAlert, DEFAULT_ALERT_RULES, alertRulesSchema } from "../../src/domain/alert-rules.js";

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 9, minute));
const passing: BranchState = { state: "passing", failingSince: null, failedRuns: 0, brokenBuildId: null, lastRunNumber: 4 };

describe("decideAlert", () => {
  it("says broken for the first run seen failing, and for the first failure after a success", () => {
    expect(decideAlert(null, { buildId: 1, status: "failed", runNumber: 1, finishedAt: at(0) })?.alert).toEqual({ kind: "broken" });
    const d = decideAlert(passing, { buildId: 5, status: "failed", runNumber: 5, finishedAt: at(5) });
    expect(d).toEqual({
      next: { state: "failing", failingSince: at(5), failedRuns: 1, brokenBuildId: 5, lastRunNumber: 5 },
      alert: { kind: "broken" },
    });
  });

  it("says still failing, then fixed with time to green and the failures in between", () => {
    const broken = decideAlert(passing, { buildId: 5, status: "failed", runNumber: 5, finishedAt: at(5) })!.next;
    const still = decideAlert(broken, { buildId: 6, status: "failed", runNumber: 6, finishedAt: at(15) })!;
    expect(still.alert).toEqual({ kind: "still_failing", failedRuns: 2, brokenBuildId: 5 });
    const fixed = decideAlert(still.next, { buildId: 7, status: "success", runNumber: 7, finishedAt: at(47) })!;
    expect(fixed.alert).toEqual({ kind: "fixed", timeToGreenSeconds: 42 * 60, failedRuns: 2, brokenBuildId: 5 });
    expect(fixed.next.state).toBe("passing");
  });

  it("stays quiet for successes on a passing branch, cancelled and skipped runs, and older runs", () => {
    expect(decideAlert(passing, { buildId: 5, status: "success", runNumber: 5, finishedAt: at(5) })?.alert).toBeNull();
    expect(decideAlert(passing, { buildId: 5, status: "cancelled", runNumber: 5, finishedAt: at(5) })).toBeNull();
    expect(decideAlert(passing, { buildId: 5, status: "skipped", runNumber: 5, finishedAt: at(5) })).toBeNull();
    expect(decideAlert(passing, { buildId: 3, status: "failed", runNumber: 3, finishedAt: at(9) })).toBeNull();
    // A re-run of the latest run (same number) counts.
    expect(decideAlert(passing, { buildId: 4, status: "failed", runNumber: 4, finishedAt: at(9) })?.alert).toEqual({ kind: "broken" });
  });
});

describe("routeAlert", () => {
  const defaults = { email: ["all@example.com"], slackChannel: "#ci" };
  const now = at(0);
  const input = { repository: "acme/api", workflow: "CI", branch: "main", defaultBranch: "main" };

  it("watches the default branch by default", () => {
    expect(routeAlert(DEFAULT_ALERT_RULES, input, defaults, now)).toEqual({
      watched: true,
      mutedUntil: null,
      email: ["all@example.com"],
      slackChannel: "#ci",
    });
    expect(routeAlert(DEFAULT_ALERT_RULES, { ...input, branch: "dev" }, defaults, now).watched).toBe(false);
    expect(routeAlert(DEFAULT_ALERT_RULES, { ...input, branch: "trunk", defaultBranch: "trunk" }, defaults, now).watched).toBe(true);
    expect(routeAlert(DEFAULT_ALERT_RULES, { ...input, branch: "master", defaultBranch: null }, defaults, now).watched).toBe(true);
  });

  it("applies branch and workflow patterns, the first matching route, and live mutes", () => {
    const rules = alertRulesSchema.parse({
      branches: ["release/*"],
      workflows: ["Deploy*"],
      routes: [
        { repository: "acme/web", slack_channel: "#web" },
        { repository: "acme/*", email: ["acme@example.com"] },
      ],
      mutes: [
        { repository: "acme/api", until: "2026-01-01T08:00:00Z" },
        { repository: "acme/*", branch: "release/1", until: "2026-01-01T10:00:00Z" },
      ],
    });
    const route = routeAlert(rules, { ...input, workflow: "Deploy prod", branch: "release/1" }, defaults, now);
    expect(route).toEqual({
      watched: true,
      mutedUntil: new Date("2026-01-01T10:00:00Z"),
      email: ["acme@example.com"],
      slackChannel: "#ci",
    });
    expect(routeAlert(rules, { ...input, workflow: "CI", branch: "release/1" }, defaults, now).watched).toBe(false);
    expect(routeAlert(rules, { ...input, workflow: "Deploy", branch: "release/2" }, defaults, now).mutedUntil).toBeNull();
  });

  it("matches * as any run of characters and nothing else as special", () => {
    expect(matches("release/*", "release/1.2")).toBe(true);
    expect(matches("release/*", "releases/1")).toBe(false);
    expect(matches("a.b", "axb")).toBe(false);
    expect(matches("(x)+", "(x)+")).toBe(true);
  });
});
