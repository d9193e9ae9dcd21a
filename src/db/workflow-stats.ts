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
 * the `days` days before (decided runs, p95 duration of decided runs), whether it is red now, and
 * its successes and failures per UTC day over both periods (days without decided runs left out).
 * Red now: its branch state on the repository's default branch is failing (the branch states
 * ingest keeps, as "broken now" reads them); the default branch is the one the poller stored,
 * else the one the branch's last run names. Flaky runs cost a look-up per run: see
 * countFlakyRuns, for the few workflows shown.
 */
export async function getWorkflowPeriods(
  connection: CommonQueryMethods,
  options: { days: number; now: Date; installations?: InstallationScope },
): Promise<WorkflowPeriods[]> {
  const now = sql.timestamp(options.now);
  const scope = inScope(sql.fragment`b.installation_id`, options.installations);
  const rows = await connection.any(sql.type(periodRow)`
    WITH w AS (
      SELECT b.repository, b.workflow, b.status, b.duration_seconds, b.created_at,
             b.created_at >= ${now} - make_interval(days => ${options.days}) AS current
      FROM builds b
      WHERE b.created_at >= ${now} - make_interval(days => ${2 * options.days}) AND ${scope}
    ), per_period AS (
      SELECT repository, workflow, current, count(*)::int AS runs,
             count(*) FILTER (WHERE status = 'success')::int AS success,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE ${decidedRun("w")}))::float8 AS p95
      FROM w
      GROUP BY repository, workflow, current
    ), per_workflow AS (
      SELECT repository, workflow,
             coalesce(max(runs) FILTER (WHERE current), 0) AS runs,
             coalesce(max(success) FILTER (WHERE current), 0) AS success,
             coalesce(max(failed) FILTER (WHERE current), 0) AS failed,
             max(p95) FILTER (WHERE current) AS p95,
             coalesce(max(success) FILTER (WHERE NOT current), 0) AS previous_success,
             coalesce(max(failed) FILTER (WHERE NOT current), 0) AS previous_failed,
             max(p95) FILTER (WHERE NOT current) AS previous_p95
      FROM per_period
      GROUP BY repository, workflow
      HAVING bool_or(current)
    ), red AS (
      SELECT DISTINCT b.repository, b.workflow
      FROM branch_states s JOIN builds b ON b.id = s.last_build_id
      LEFT JOIN sync_repositories r ON r.repository_id = s.repository_id
      WHERE s.state = 'failing' AND ${scope}
        AND s.branch = coalesce(r.default_branch, b.payload -> 'repository' ->> 'default_branch', b.repository_default_branch)
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
    SELECT p.*, red.workflow IS NOT NULL AS red_now, coalesce(d.days, '[]'::jsonb) AS days
    FROM per_workflow p
    LEFT JOIN red USING (repository, workflow)
    LEFT JOIN per_day d USING (repository, workflow)
    ORDER BY p.repository, p.workflow`);
  return [...rows];
}

const flakyCountRow = z.object({ repository: z.string(), workflow: z.string(), flaky: z.number() });

/**
 * The flaky runs (as metric-sql.ts counts them) of each of `workflows` in the last `days` days
 * before `now`, keyed "repository\u0000workflow"; a workflow without one is left out.
 */
export async function countFlakyRuns(
  connection: CommonQueryMethods,
  options: { workflows: Array<{ repository: string; workflow: string }>; days: number; now: Date; installations?: InstallationScope },
): Promise<Map<string, number>> {
  if (options.workflows.length === 0) return new Map();
  const rows = await connection.any(sql.type(flakyCountRow)`
    SELECT w.repository, w.workflow, count(*)::int AS flaky
    FROM builds w
    JOIN unnest(${sql.array(options.workflows.map((x) => x.repository), "text")}, ${sql.array(options.workflows.map((x) => x.workflow), "text")})
      AS k(repository, workflow) ON k.repository = w.repository AND k.workflow = w.workflow
    WHERE w.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days})
      AND ${inScope(sql.fragment`w.installation_id`, options.installations)} AND ${flakyRun("w")}
    GROUP BY w.repository, w.workflow`);
  return new Map(rows.map((r) => [workflowKey(r), r.flaky]));
}

/** How countFlakyRuns keys a workflow. */
export function workflowKey(w: { repository: string; workflow: string }): string {
  return `${w.repository}\u0000${w.workflow}`;
}
