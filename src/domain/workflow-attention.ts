import { flakyRate } from "./flaky-rate.js";
import { successRate } from "./success-rate.js";

/** What the database counts of one workflow over the current period and the one before. */
export interface WorkflowPeriodCounts {
  repository: string;
  workflow: string;
  /** Runs in the current period, whatever their status. */
  runs: number;
  success: number;
  failed: number;
  p95: number | null;
  previous_success: number;
  previous_failed: number;
  previous_p95: number | null;
  /** The latest decided run on the default branch failed. */
  red_now: boolean;
}

/** A workflow's successes and failures on one UTC day ("YYYY-MM-DD"). */
export interface DayCounts {
  day: string;
  success: number;
  failed: number;
}

/** Why a workflow is where it is in the list. */
export type AttentionReason = "red" | "falling" | "slower" | "steady";

export interface WorkflowAttention {
  repository: string;
  workflow: string;
  runs: number;
  success_rate: number | null;
  previous_success_rate: number | null;
  /** Current minus previous success rate (-0.1 is ten points lower); null when either is unknown. */
  success_rate_change: number | null;
  /** Runs that succeeded or failed in the current period. */
  decided: number;
  /** Set by withFlakyRate: counting flaky runs costs a look-up per run, so only shown ones are counted. */
  flaky_rate: number | null;
  p95_seconds: number | null;
  /** p95 over the previous p95, minus one (0.25 is a quarter slower); null when either is unknown. */
  p95_change: number | null;
  reason: AttentionReason;
  /**
   * Set by withTrend (empty until then: the days are read for the shown workflows only): the
   * daily success rate over both periods, oldest first; null on days without a decided run.
   */
  trend: Array<number | null>;
}

const REASON_ORDER: Record<AttentionReason, number> = { red: 0, falling: 1, slower: 2, steady: 3 };

/**
 * The workflows in the order they most need a look: red now (lowest success rate first), then
 * those whose success rate fell (the biggest fall first), then those that got slower (the
 * biggest p95 growth first), then the rest (lowest success rate first).
 */
export function rankWorkflowAttention(rows: WorkflowPeriodCounts[]): WorkflowAttention[] {
  const ranked = rows.map((row): WorkflowAttention => {
    const rate = successRate(row.success, row.failed);
    const previousRate = successRate(row.previous_success, row.previous_failed);
    const rateChange = rate !== null && previousRate !== null ? rate - previousRate : null;
    const p95Change = row.p95 !== null && row.previous_p95 !== null && row.previous_p95 > 0 ? row.p95 / row.previous_p95 - 1 : null;
    return {
      repository: row.repository,
      workflow: row.workflow,
      runs: row.runs,
      success_rate: rate,
      previous_success_rate: previousRate,
      success_rate_change: rateChange,
      decided: row.success + row.failed,
      flaky_rate: null,
      p95_seconds: row.p95,
      p95_change: p95Change,
      reason: row.red_now ? "red" : rateChange !== null && rateChange < 0 ? "falling" : p95Change !== null && p95Change > 0 ? "slower" : "steady",
      trend: [],
    };
  });
  return ranked.sort((a, b) => {
    const byReason = REASON_ORDER[a.reason] - REASON_ORDER[b.reason];
    if (byReason !== 0) return byReason;
    if (a.reason === "falling") return a.success_rate_change! - b.success_rate_change!;
    if (a.reason === "slower") return b.p95_change! - a.p95_change!;
    const byRate = (a.success_rate ?? 1) - (b.success_rate ?? 1);
    if (byRate !== 0) return byRate;
    return b.runs - a.runs || a.repository.localeCompare(b.repository) || a.workflow.localeCompare(b.workflow);
  });
}

/** The workflow with its flaky rate, from its count of flaky runs in the current period. */
export function withFlakyRate(workflow: WorkflowAttention, flakyRuns: number): WorkflowAttention {
  return { ...workflow, flaky_rate: flakyRate(flakyRuns, workflow.decided) };
}

/**
 * The workflow with its daily success rate over both periods of `days` days ending on `today`
 * ("YYYY-MM-DD", UTC), from its counts per day (days missing from `counts` have no decided run).
 */
export function withTrend(workflow: WorkflowAttention, counts: readonly DayCounts[], options: { days: number; today: string }): WorkflowAttention {
  const byDay = new Map(counts.map((d) => [d.day, d]));
  return {
    ...workflow,
    trend: lastDays(options.today, 2 * options.days).map((day) => {
      const c = byDay.get(day);
      return c ? successRate(c.success, c.failed) : null;
    }),
  };
}

/**
 * The two periods "Needs attention" compares, in whole UTC days like its daily trend: the current
 * one is today and the `days` - 1 days before it (up to now), the previous one the `days` days
 * before those. Whole days are read from day rollups alone, with no hour rows at either end.
 */
export function attentionPeriods(days: number, now: Date): { currentFrom: Date; previousFrom: Date } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const currentFrom = new Date(today - (days - 1) * 86_400_000);
  return { currentFrom, previousFrom: new Date(currentFrom.getTime() - days * 86_400_000) };
}

/** The `count` UTC days ending on `today`, oldest first, as "YYYY-MM-DD". */
export function lastDays(today: string, count: number): string[] {
  const end = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(end - (count - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}
