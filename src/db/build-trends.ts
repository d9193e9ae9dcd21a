import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { histogramFrom, histogramPercentile } from "../domain/duration-histogram.js";
import { floorTo, planWindow } from "../domain/rollup-window.js";
import { countedRows } from "./build-rollups.js";
import { decidedRun } from "./metric-sql.js";
import type { InstallationScope } from "./values.js";

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
  histogram: z.record(z.string(), z.number()).nullable(),
});

export interface TrendDay {
  day: string;
  total: number;
  success: number;
  failed: number;
  p50: number | null;
  p95: number | null;
}

/**
 * One row per day of the window ending at `now` (UTC days, oldest first, days without builds
 * included): builds, successes, failures and the p50/p95 duration of runs that succeeded or failed
 * (from duration buckets). Read from the day rollups (see countedRows).
 */
export async function getDailyTrend(
  connection: CommonQueryMethods,
  options: { days: number; now: Date } & TrendFilters,
): Promise<TrendDay[]> {
  const today = floorTo("day", options.now);
  const first = new Date(today.getTime() - (options.days - 1) * 86_400_000);
  const rows = await connection.any(sql.type(dayRow)`
    WITH days AS (
      SELECT generate_series((${sql.timestamp(first)} AT TIME ZONE 'UTC')::date, (${sql.timestamp(today)} AT TIME ZONE 'UTC')::date, interval '1 day')::date AS day
    ), w AS (${countedRows(planWindow(first, null, options.now, "day"), options, { perWorkflow: false })}),
    per_day AS (
      SELECT day, sum(runs)::int AS total,
             coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
             coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed
      FROM w GROUP BY day
    ), per_day_histogram AS (
      SELECT day, jsonb_object_agg(bucket, n) AS histogram FROM (
        SELECT w.day, k.bucket, sum(k.n)::int AS n
        FROM w CROSS JOIN LATERAL unnest(w.buckets, w.bucket_runs) AS k(bucket, n)
        WHERE ${decidedRun("w")}
        GROUP BY 1, 2) x
      WHERE n <> 0
      GROUP BY day
    )
    SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(c.total, 0) AS total, coalesce(c.success, 0) AS success,
           coalesce(c.failed, 0) AS failed, h.histogram
    FROM days d LEFT JOIN per_day c USING (day) LEFT JOIN per_day_histogram h USING (day)
    ORDER BY d.day`);
  return rows.map((row) => {
    const histogram = histogramFrom(row.histogram);
    return {
      day: row.day,
      total: row.total,
      success: row.success,
      failed: row.failed,
      p50: histogramPercentile(histogram, 0.5),
      p95: histogramPercentile(histogram, 0.95),
    };
  });
}
