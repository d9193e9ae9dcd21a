import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { histogramFrom, histogramPercentile } from "../domain/duration-histogram.js";
import { planWindow } from "../domain/rollup-window.js";
import { STATUSES, type Status } from "../domain/status.js";
import { successRate } from "../domain/success-rate.js";
import { countedRows, mergedHistogram } from "./build-rollups.js";
import { decidedRun } from "./metric-sql.js";
import type { InstallationScope } from "./values.js";

export interface MetricsFilters {
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  installations?: InstallationScope;
}

/** The summary the JSON API answers and the overview shows. */
export const metricsSummarySchema = z.object({
  window_days: z.number().int(),
  total_builds: z.number().int(),
  success_rate: z.number().nullable().describe("success / (success + failed); null when neither happened"),
  avg_duration_seconds: z.number().nullable(),
  p50_duration_seconds: z.number().nullable().describe("within 2% of the exact median (duration buckets)"),
  p95_duration_seconds: z.number().nullable().describe("within 2% of the exact 95th percentile (duration buckets)"),
  by_status: z.record(z.enum(STATUSES), z.number().int()),
});
export type MetricsSummary = Omit<z.infer<typeof metricsSummarySchema>, "by_status"> & { by_status: Record<Status, number> };

const summaryRow = z.object({
  by_status: z.record(z.string(), z.number()).nullable(),
  timed_runs: z.number(),
  duration_sum: z.number(),
  histogram: z.record(z.string(), z.number()).nullable(),
});

/**
 * Counts and durations of the builds created in the last `days` days before `now` (a window
 * reaching past the rollups' hour horizon from midnight UTC: see domain/rollup-window.ts): the
 * success rate as `successRate` says, durations of decided runs only (see metric-sql.ts), p50/p95
 * from duration buckets. Read from the rollups (see countedRows).
 */
export async function getMetricsSummary(
  connection: CommonQueryMethods,
  options: { days: number; now: Date } & MetricsFilters,
): Promise<MetricsSummary> {
  const plan = planWindow(new Date(options.now.getTime() - options.days * 86_400_000), null, options.now);
  const row = await connection.one(sql.type(summaryRow)`
    WITH w AS (${countedRows(plan, options, { perWorkflow: false })}),
    counts AS (
      SELECT status, sum(runs)::int AS n FROM w GROUP BY status
    )
    SELECT (SELECT jsonb_object_agg(status, n) FROM counts) AS by_status,
           (SELECT coalesce(sum(timed_runs), 0)::int FROM w WHERE ${decidedRun("w")}) AS timed_runs,
           (SELECT coalesce(sum(duration_sum), 0)::float8 FROM w WHERE ${decidedRun("w")}) AS duration_sum,
           ${mergedHistogram("w", decidedRun("x"))} AS histogram`);
  const byStatus = Object.fromEntries(STATUSES.map((status) => [status, row.by_status?.[status] ?? 0])) as Record<Status, number>;
  const histogram = histogramFrom(row.histogram);
  return {
    window_days: options.days,
    total_builds: STATUSES.reduce((sum, status) => sum + byStatus[status], 0),
    success_rate: successRate(byStatus.success, byStatus.failed),
    avg_duration_seconds: row.timed_runs === 0 ? null : row.duration_sum / row.timed_runs,
    p50_duration_seconds: histogramPercentile(histogram, 0.5),
    p95_duration_seconds: histogramPercentile(histogram, 0.95),
    by_status: byStatus,
  };
}
