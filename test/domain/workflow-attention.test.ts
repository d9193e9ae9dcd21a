import { describe, expect, it } from "vitest";
import { attentionPeriods, lastDays, rankWorkflowAttention, withFlakyRate, withTrend, type WorkflowPeriodCounts } from "../../src/domain/workflow-attention.js";

function counts(workflow: string, fields: Partial<WorkflowPeriodCounts> = {}): WorkflowPeriodCounts {
  return {
    repository: "acme/api",
    workflow,
    runs: 10,
    success: 9,
    failed: 1,
    p95: 300,
    previous_success: 9,
    previous_failed: 1,
    previous_p95: 300,
    red_now: false,
    ...fields,
  };
}

describe("rankWorkflowAttention", () => {
  const options = { days: 7, today: "2026-07-15" };

  it("puts red workflows first, then falling success rates, then slower ones, then the rest", () => {
    const ranked = rankWorkflowAttention(
      [
        counts("steady-good", { success: 10, failed: 0, previous_success: 10, previous_failed: 0 }),
        counts("slower-a-bit", { p95: 330 }),
        counts("falling-a-bit", { success: 8, failed: 2 }),
        counts("red", { red_now: true, success: 9, failed: 1 }),
        counts("steady-poor", { success: 5, failed: 5, previous_success: 5, previous_failed: 5, p95: 200 }),
        counts("falling-hard", { success: 2, failed: 8 }),
        counts("much-slower", { p95: 600 }),
        counts("red-and-worse", { red_now: true, success: 1, failed: 9 }),
      ],
    );
    expect(ranked.map((w) => w.workflow)).toEqual([
      "red-and-worse",
      "red",
      "falling-hard",
      "falling-a-bit",
      "much-slower",
      "slower-a-bit",
      "steady-poor",
      "steady-good",
    ]);
    expect(ranked.map((w) => w.reason)).toEqual(["red", "red", "falling", "falling", "slower", "slower", "steady", "steady"]);
  });

  it("works out the rates and changes from the counts", () => {
    const [ranked] = rankWorkflowAttention([counts("CI", { success: 6, failed: 2, previous_success: 3, previous_failed: 1, p95: 450, previous_p95: 300 })]);
    expect(ranked!.flaky_rate).toBeNull();
    const w = withFlakyRate(ranked!, 2);
    expect(w.success_rate).toBe(0.75);
    expect(w.previous_success_rate).toBe(0.75);
    expect(w.success_rate_change).toBe(0);
    expect(w.flaky_rate).toBe(0.25);
    expect(w.p95_change).toBeCloseTo(0.5, 10);
    expect(w.reason).toBe("slower");
  });

  it("has no change where the previous period had nothing to compare with", () => {
    const [w] = rankWorkflowAttention([counts("new", { previous_success: 0, previous_failed: 0, previous_p95: null })]);
    expect(w).toMatchObject({ previous_success_rate: null, success_rate_change: null, p95_change: null, reason: "steady" });
  });

  it("gives a daily success rate over both periods, with gaps on days without a decided run", () => {
    const [ranked] = rankWorkflowAttention([counts("CI")]);
    expect(ranked!.trend).toEqual([]);
    const w = withTrend(
      ranked!,
      [{ day: "2026-07-02", success: 1, failed: 1 }, { day: "2026-07-15", success: 3, failed: 0 }, { day: "2026-06-01", success: 1, failed: 0 }],
      options,
    );
    expect(w!.trend).toHaveLength(14);
    expect(w!.trend[0]).toBe(0.5);
    expect(w!.trend[13]).toBe(1);
    expect(w!.trend.slice(1, 13).every((v) => v === null)).toBe(true);
  });
});

describe("lastDays", () => {
  it("lists the days ending today, across a month's end", () => {
    expect(lastDays("2026-03-02", 4)).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
  });
});

describe("attentionPeriods", () => {
  it("compares today and the days before it with as many whole UTC days before those", () => {
    const { currentFrom, previousFrom } = attentionPeriods(7, new Date("2026-03-02T00:30:00Z"));
    expect(currentFrom.toISOString()).toBe("2026-02-24T00:00:00.000Z");
    expect(previousFrom.toISOString()).toBe("2026-02-17T00:00:00.000Z");
    // The trend's 14 days are the two periods: its second half starts with the current one.
    const trend = lastDays("2026-03-02", 14);
    expect(trend[0]).toBe(previousFrom.toISOString().slice(0, 10));
    expect(trend[7]).toBe(currentFrom.toISOString().slice(0, 10));
  });
});
