import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { STATUSES, type Status } from "../domain/status.js";
import { successRate } from "../domain/success-rate.js";
import { decidedRun } from "./metric-sql.js";
import { inScope, type InstallationScope } from "./values.js";

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
  p50_duration_seconds: z.number().nullable(),
  p95_duration_seconds: z.number().nullable(),
  by_status: z.record(z.enum(STATUSES), z.number().int()),
});
export type MetricsSummary = Omit<z.infer<typeof metricsSummarySchema>, "by_status"> & { by_status: Record<Status, number> };

const summaryRow = z.object({
  total: z.number(),
  by_status: z.record(z.string(), z.number()).nullable(),
  avg: z.number().nullable(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
});

/**
 * Counts and durations of the builds created in the last `days` days before `now`: the success
 * rate as `successRate` says, durations of decided runs only (see metric-sql.ts).
 */
export async function getMetricsSummary(
  connection: CommonQueryMethods,
  options: { days: number; now: Date } & MetricsFilters,
): Promise<MetricsSummary> {
  const conditions = [
    sql.fragment`b.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days})`,
    inScope(sql.fragment`b.installation_id`, options.installations),
  ];
  if (options.repository) conditions.push(sql.fragment`b.repository = ${options.repository}`);
  if (options.branch) conditions.push(sql.fragment`b.branch = ${options.branch}`);
  if (options.workflow) conditions.push(sql.fragment`b.workflow = ${options.workflow}`);
  const row = await connection.one(sql.type(summaryRow)`
    WITH window_builds AS (
      SELECT b.status, b.duration_seconds FROM builds b WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ), counts AS (
      SELECT status, count(*)::int AS n FROM window_builds GROUP BY status
    )
    SELECT
      (SELECT coalesce(sum(n), 0)::int FROM counts) AS total,
      (SELECT jsonb_object_agg(status, n) FROM counts) AS by_status,
      avg(w.duration_seconds)::float8 AS avg,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY w.duration_seconds)::float8 AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY w.duration_seconds)::float8 AS p95
    FROM window_builds w
    WHERE w.duration_seconds IS NOT NULL AND ${decidedRun("w")}`);
  const byStatus = Object.fromEntries(STATUSES.map((status) => [status, row.by_status?.[status] ?? 0])) as Record<
    Status,
    number
  >;
  return {
    window_days: options.days,
    total_builds: row.total,
    success_rate: successRate(byStatus.success, byStatus.failed),
    avg_duration_seconds: row.avg,
    p50_duration_seconds: row.p50,
    p95_duration_seconds: row.p95,
    by_status: byStatus,
  };
}
