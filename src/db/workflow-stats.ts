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

const periodRow = z.object({
  repository: z.string(),
  workflow: z.string(),
  runs: z.number(),
  success: z.number(),
  failed: z.number(),
  flaky: z.number(),
  p95: z.number().nullable(),
  previous_success: z.number(),
  previous_failed: z.number(),
  previous_p95: z.number().nullable(),
  red_now: z.boolean(),
  days: z.array(z.object({ day: z.string(), success: z.number(), failed: z.number() })),
});
/** Counts of one workflow in the current period and the one before it (see getWorkflowPeriods). */
export type WorkflowPeriods = z.infer<typeof periodRow>;

/**
 * Every workflow with a run in the last `days` days before `now`, with its counts there and in
 * the `days` days before (decided runs, flaky runs as in metric-sql.ts, p95 duration of decided
 * runs), whether its latest decided run on the repository's default branch failed, and its
 * successes and failures per UTC day over both periods (days without decided runs left out).
 * The default branch is the one the poller stored, else the one the run's payload names.
 */
export async function getWorkflowPeriods(
  connection: CommonQueryMethods,
  options: { days: number; now: Date; installations?: InstallationScope },
): Promise<WorkflowPeriods[]> {
  const now = sql.timestamp(options.now);
  const rows = await connection.any(sql.type(periodRow)`
    WITH w AS (
      SELECT b.*, b.created_at >= ${now} - make_interval(days => ${options.days}) AS current
      FROM builds b
      WHERE b.created_at >= ${now} - make_interval(days => ${2 * options.days})
        AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
    ), per_workflow AS (
      SELECT repository, workflow,
             count(*) FILTER (WHERE current)::int AS runs,
             count(*) FILTER (WHERE current AND status = 'success')::int AS success,
             count(*) FILTER (WHERE current AND status = 'failed')::int AS failed,
             count(*) FILTER (WHERE current AND ${flakyRun("w")})::int AS flaky,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE current AND ${decidedRun("w")}))::float8 AS p95,
             count(*) FILTER (WHERE NOT current AND status = 'success')::int AS previous_success,
             count(*) FILTER (WHERE NOT current AND status = 'failed')::int AS previous_failed,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE NOT current AND ${decidedRun("w")}))::float8 AS previous_p95
      FROM w
      GROUP BY repository, workflow
      HAVING count(*) FILTER (WHERE current) > 0
    ), latest_on_default AS (
      SELECT DISTINCT ON (w.repository, w.workflow) w.repository, w.workflow, w.status
      FROM w LEFT JOIN sync_repositories r ON r.repository_id = w.repository_id
      WHERE ${decidedRun("w")} AND w.branch = coalesce(r.default_branch, w.payload -> 'repository' ->> 'default_branch')
      ORDER BY w.repository, w.workflow, w.created_at DESC, w.id DESC
    ), per_day AS (
      SELECT repository, workflow, jsonb_agg(jsonb_build_object('day', day, 'success', success, 'failed', failed) ORDER BY day) AS days
      FROM (
        SELECT repository, workflow, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               count(*) FILTER (WHERE status = 'success')::int AS success,
               count(*) FILTER (WHERE status = 'failed')::int AS failed
        FROM w WHERE ${decidedRun("w")}
        GROUP BY 1, 2, 3
      ) d
      GROUP BY repository, workflow
    )
    SELECT p.*, coalesce(l.status = 'failed', false) AS red_now, coalesce(d.days, '[]'::jsonb) AS days
    FROM per_workflow p
    LEFT JOIN latest_on_default l USING (repository, workflow)
    LEFT JOIN per_day d USING (repository, workflow)
    ORDER BY p.repository, p.workflow`);
  return [...rows];
}
