import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { inScope, type InstallationScope } from "./values.js";

export interface TrendFilters {
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  installations?: InstallationScope;
}

const dayRow = z.object({
  day: z.string(),
  total: z.number(),
  success: z.number(),
  failed: z.number(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
});
export type TrendDay = z.infer<typeof dayRow>;

/**
 * One row per day of the window ending at `now` (UTC days, oldest first, days without builds
 * included): builds, successes, failures and the p50/p95 duration of runs that succeeded or failed.
 * Reads only the window's rows through the created_at indexes.
 */
export async function getDailyTrend(
  connection: CommonQueryMethods,
  options: { days: number; now: Date } & TrendFilters,
): Promise<TrendDay[]> {
  const conditions = [
    sql.fragment`b.created_at >= date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => ${options.days - 1})`,
    inScope(sql.fragment`b.installation_id`, options.installations),
  ];
  if (options.repository) conditions.push(sql.fragment`b.repository = ${options.repository}`);
  if (options.branch) conditions.push(sql.fragment`b.branch = ${options.branch}`);
  if (options.workflow) conditions.push(sql.fragment`b.workflow = ${options.workflow}`);
  const rows = await connection.any(sql.type(dayRow)`
    WITH days AS (
      SELECT generate_series(
        (date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC') - make_interval(days => ${options.days - 1}))::date,
        (date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC'))::date,
        interval '1 day')::date AS day
    ), per_day AS (
      SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day,
             count(*)::int AS total,
             count(*) FILTER (WHERE b.status = 'success')::int AS success,
             count(*) FILTER (WHERE b.status = 'failed')::int AS failed,
             (percentile_cont(0.5) WITHIN GROUP (ORDER BY b.duration_seconds)
               FILTER (WHERE b.status IN ('success', 'failed')))::float8 AS p50,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY b.duration_seconds)
               FILTER (WHERE b.status IN ('success', 'failed')))::float8 AS p95
      FROM builds b
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      GROUP BY 1
    )
    SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(p.total, 0) AS total, coalesce(p.success, 0) AS success,
           coalesce(p.failed, 0) AS failed, p.p50, p.p95
    FROM days d LEFT JOIN per_day p USING (day)
    ORDER BY d.day`);
  return [...rows];
}
