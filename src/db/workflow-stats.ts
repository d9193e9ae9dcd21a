import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { histogramFrom, histogramPercentile } from "../domain/duration-histogram.js";
import { flakyRate } from "../domain/flaky-rate.js";
import { countedWindow, planWindow } from "../domain/rollup-window.js";
import { successRate } from "../domain/success-rate.js";
import type { WorkflowPeriodCounts } from "../domain/workflow-attention.js";
import { countedRows, createdIn, mergedHistogram } from "./build-rollups.js";
import { decidedRun, flakyRun } from "./metric-sql.js";
import { inScope, type InstallationScope } from "./values.js";

const statsRow = z.object({
  total: z.number(),
  success: z.number(),
  failed: z.number(),
  histogram: z.record(z.string(), z.number()).nullable(),
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

/**
 * Figures of one workflow of one repository over the window: counts and durations from the
 * rollups (see countedRows), flaky runs (metric-sql.ts) from the window's builds through the
 * repository index.
 */
export async function getWorkflowStats(
  connection: CommonQueryMethods,
  options: { repository: string; workflow: string; days: number; now: Date; installations?: InstallationScope },
): Promise<WorkflowStats> {
  const plan = planWindow(new Date(options.now.getTime() - options.days * 86_400_000), null, options.now);
  const source = countedRows(plan, options, { perWorkflow: true });
  const [row, flaky] = await Promise.all([
    connection.one(sql.type(statsRow)`
      WITH w AS (${source})
      SELECT coalesce(sum(runs), 0)::int AS total,
             coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
             coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed,
             ${mergedHistogram("w", decidedRun("x"))} AS histogram
      FROM w`),
    countFlakyRuns(connection, { ...options, workflows: [options] }),
  ]);
  const histogram = histogramFrom(row.histogram);
  const flakyRuns = flaky.get(workflowKey(options)) ?? 0;
  return {
    total: row.total,
    success_rate: successRate(row.success, row.failed),
    flaky_rate: flakyRate(flakyRuns, row.success + row.failed),
    flaky_runs: flakyRuns,
    p50_duration_seconds: histogramPercentile(histogram, 0.5),
    p95_duration_seconds: histogramPercentile(histogram, 0.95),
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
  histogram: z.record(z.string(), z.number()).nullable(),
  previous_success: z.number(),
  previous_failed: z.number(),
  previous_histogram: z.record(z.string(), z.number()).nullable(),
  red_now: z.boolean(),
  days: z.array(z.object({ day: z.string(), success: z.number(), failed: z.number() })),
});
/** Counts of one workflow in the current period and the one before it (see getWorkflowPeriods). */
export type WorkflowPeriods = WorkflowPeriodCounts;

/**
 * Every workflow with a run in the last `days` days before `now`, with its counts there and in
 * the `days` days before (decided runs, p95 duration of decided runs from duration buckets),
 * whether it is red now, and its successes and failures per UTC day over both periods (days
 * without decided runs left out); read from the rollups (see countedRows).
 * Red now: its branch state on the repository's default branch is failing (the branch states
 * ingest keeps, as "broken now" reads them); the default branch is the one the poller stored,
 * else the one the branch's last run names. Flaky runs cost a look-up per run: see
 * countFlakyRuns, for the few workflows shown.
 */
export async function getWorkflowPeriods(
  connection: CommonQueryMethods,
  options: { days: number; now: Date; installations?: InstallationScope },
): Promise<WorkflowPeriods[]> {
  const { now, days } = options;
  const current = planWindow(new Date(now.getTime() - days * 86_400_000), null, now, "day");
  const previous = planWindow(new Date(now.getTime() - 2 * days * 86_400_000), new Date(now.getTime() - days * 86_400_000), now, "day");
  const rows = await connection.any(sql.type(periodRow)`
    WITH w AS (
      SELECT c.*, true AS current FROM (${countedRows(current, options, { perWorkflow: true })}) c
      UNION ALL
      SELECT p.*, false FROM (${countedRows(previous, options, { perWorkflow: true })}) p
    ),
    per_period AS (
      SELECT repository, workflow, current, sum(runs)::int AS runs,
             coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
             coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed
      FROM w
      GROUP BY repository, workflow, current
    ), per_period_histogram AS (
      SELECT repository, workflow, current, jsonb_object_agg(bucket, n) AS histogram FROM (
        SELECT w.repository, w.workflow, w.current, k.bucket, sum(k.n)::int AS n
        FROM w CROSS JOIN LATERAL unnest(w.buckets, w.bucket_runs) AS k(bucket, n)
        WHERE ${decidedRun("w")}
        GROUP BY 1, 2, 3, 4) x
      WHERE n <> 0
      GROUP BY 1, 2, 3
    ), per_workflow AS (
      SELECT p.repository, p.workflow,
             coalesce(max(p.runs) FILTER (WHERE p.current), 0) AS runs,
             coalesce(max(p.success) FILTER (WHERE p.current), 0) AS success,
             coalesce(max(p.failed) FILTER (WHERE p.current), 0) AS failed,
             (array_agg(h.histogram) FILTER (WHERE p.current))[1] AS histogram,
             coalesce(max(p.success) FILTER (WHERE NOT p.current), 0) AS previous_success,
             coalesce(max(p.failed) FILTER (WHERE NOT p.current), 0) AS previous_failed,
             (array_agg(h.histogram) FILTER (WHERE NOT p.current))[1] AS previous_histogram
      FROM per_period p LEFT JOIN per_period_histogram h USING (repository, workflow, current)
      GROUP BY p.repository, p.workflow
      HAVING coalesce(max(p.runs) FILTER (WHERE p.current), 0) > 0
    ), red AS (
      SELECT DISTINCT b.repository, b.workflow
      FROM branch_states s JOIN builds b ON b.id = s.last_build_id
      LEFT JOIN sync_repositories r ON r.repository_id = s.repository_id
      WHERE s.state = 'failing' AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
        AND s.branch = coalesce(r.default_branch, b.payload -> 'repository' ->> 'default_branch', b.repository_default_branch)
    ), per_day AS (
      SELECT repository, workflow, jsonb_agg(jsonb_build_object('day', day, 'success', success, 'failed', failed) ORDER BY day) AS days
      FROM (
        SELECT repository, workflow, to_char(day, 'YYYY-MM-DD') AS day,
               coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
               coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed
        FROM w WHERE ${decidedRun("w")}
        GROUP BY 1, 2, 3
        HAVING sum(runs) > 0
      ) d
      GROUP BY repository, workflow
    )
    SELECT p.*, red.workflow IS NOT NULL AS red_now, coalesce(d.days, '[]'::jsonb) AS days
    FROM per_workflow p
    LEFT JOIN red USING (repository, workflow)
    LEFT JOIN per_day d USING (repository, workflow)
    ORDER BY p.repository, p.workflow`);
  return rows.map(({ histogram, previous_histogram, ...row }) => ({
    ...row,
    p95: histogramPercentile(histogramFrom(histogram), 0.95),
    previous_p95: histogramPercentile(histogramFrom(previous_histogram), 0.95),
  }));
}

const flakyCountRow = z.object({ repository: z.string(), workflow: z.string(), flaky: z.number() });

/**
 * The flaky runs (as metric-sql.ts counts them) of each of `workflows` in the last `days` days
 * before `now` (the window getWorkflowPeriods counts), read from the window's builds; keyed "repository\u0000workflow"; a workflow without one is left out.
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
    WHERE ${createdIn("w", countedWindow(new Date(options.now.getTime() - options.days * 86_400_000), null, options.now))}
      AND ${inScope(sql.fragment`w.installation_id`, options.installations)} AND ${flakyRun("w")}
    GROUP BY w.repository, w.workflow`);
  return new Map(rows.map((r) => [workflowKey(r), r.flaky]));
}

/** How countFlakyRuns keys a workflow. */
export function workflowKey(w: { repository: string; workflow: string }): string {
  return `${w.repository}\u0000${w.workflow}`;
}
