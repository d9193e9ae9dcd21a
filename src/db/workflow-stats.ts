import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { flakyRate } from "../domain/flaky-rate.js";
import { successRate } from "../domain/success-rate.js";
import { decidedRun, flakyRun } from "./metric-sql.js";
import { inScope, type InstallationScope } from "./values.js";

const statsRow = z.object({
  total: z.number(),
  success: z.number(),
  failed: z.number(),
  flaky: z.number(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
});

export interface WorkflowStats {
  total: number;
  success_rate: number | null;
  /** Share of decided runs that failed and then passed on a re-run of the same commit. */
  flaky_rate: number | null;
  flaky_runs: number;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
}

/** Figures of one workflow of one repository over the window (flaky runs as in metric-sql.ts). */
export async function getWorkflowStats(
  connection: CommonQueryMethods,
  options: { repository: string; workflow: string; days: number; now: Date; installations?: InstallationScope },
): Promise<WorkflowStats> {
  const row = await connection.one(sql.type(statsRow)`
    WITH w AS (
      SELECT b.* FROM builds b
      WHERE b.repository = ${options.repository} AND b.workflow = ${options.workflow}
        AND b.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days})
        AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
    )
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE status = 'success')::int AS success,
           count(*) FILTER (WHERE status = 'failed')::int AS failed,
           count(*) FILTER (WHERE ${flakyRun("w")})::int AS flaky,
           (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE ${decidedRun("w")}))::float8 AS p50,
           (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE ${decidedRun("w")}))::float8 AS p95
    FROM w`);
  return {
    total: row.total,
    success_rate: successRate(row.success, row.failed),
    flaky_rate: flakyRate(row.flaky, row.success + row.failed),
    flaky_runs: row.flaky,
    p50_duration_seconds: row.p50,
    p95_duration_seconds: row.p95,
  };
}

const slowJobRow = z.object({ name: z.string(), runs: z.number(), avg_seconds: z.number(), max_seconds: z.number() });
export type SlowJob = z.infer<typeof slowJobRow>;

/** The workflow's jobs with the longest average run time over the window. */
export async function getSlowestJobs(
  connection: CommonQueryMethods,
  options: { repository: string; workflow: string; days: number; now: Date; limit?: number; installations?: InstallationScope },
): Promise<SlowJob[]> {
  const rows = await connection.any(sql.type(slowJobRow)`
    SELECT j.name, count(*)::int AS runs, avg(j.run_seconds)::float8 AS avg_seconds, max(j.run_seconds)::float8 AS max_seconds
    FROM builds b JOIN build_jobs j ON j.build_id = b.id
    WHERE b.repository = ${options.repository} AND b.workflow = ${options.workflow}
      AND b.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days})
      AND j.run_seconds IS NOT NULL AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
    GROUP BY j.name
    ORDER BY avg(j.run_seconds) DESC
    LIMIT ${options.limit ?? 5}`);
  return [...rows];
}
