import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import { histogramFrom, histogramFromPairs, histogramPercentile } from "../domain/duration-histogram.js";
import { flakyRate } from "../domain/flaky-rate.js";
import { countedWindow, planWindow } from "../domain/rollup-window.js";
import { successRate } from "../domain/success-rate.js";
import { attentionPeriods, type DayCounts, type WorkflowPeriodCounts } from "../domain/workflow-attention.js";
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
    countFlakyRuns(connection, { ...options, since: new Date(options.now.getTime() - options.days * 86_400_000), workflows: [options] }),
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
  buckets: z.array(z.number()).nullable(),
  bucket_runs: z.array(z.number()).nullable(),
  previous_success: z.number(),
  previous_failed: z.number(),
  previous_buckets: z.array(z.number()).nullable(),
  previous_bucket_runs: z.array(z.number()).nullable(),
  red_now: z.boolean(),
});
/** Counts of one workflow in the current period and the one before it (see getWorkflowPeriods). */
export type WorkflowPeriods = WorkflowPeriodCounts;

/**
 * Every workflow with a run in the current period of attentionPeriods (today and the `days` - 1
 * UTC days before it), with its counts there and in the previous period (the `days` days before;
 * decided runs, p95 duration of decided runs from duration buckets),
 * and whether it is red now; read from the rollups (see countedRows). The days of the few
 * workflows shown are read apart (getWorkflowDays).
 * The histograms are merged here, not in SQL: a period's rollup rows give their (bucket, runs)
 * pairs concatenated (runboard_array_concat, migrations/0027), which costs a third of unnesting
 * thousands of rows and grouping the pairs again. Each row copies the array built so far, which
 * suits a group of a few dozen rows (a workflow's day rows of a period); until the rollups'
 * backfill is done the rows are builds, one a run, and a busy workflow's week costs more.
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
  const { currentFrom, previousFrom } = attentionPeriods(days, now);
  const current = planWindow(currentFrom, null, now, "day");
  const previous = planWindow(previousFrom, currentFrom, now, "day");
  const rows = await connection.any(sql.type(periodRow)`
    WITH w AS (
      SELECT c.*, true AS current FROM (${countedRows(current, options, { perWorkflow: true })}) c
      UNION ALL
      SELECT p.*, false FROM (${countedRows(previous, options, { perWorkflow: true })}) p
    ),
    per_period AS (
      SELECT repository, workflow, current, sum(runs)::int AS runs,
             coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
             coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed,
             runboard_array_concat(buckets) FILTER (WHERE ${decidedRun("w")}) AS buckets,
             runboard_array_concat(bucket_runs) FILTER (WHERE ${decidedRun("w")}) AS bucket_runs
      FROM w
      GROUP BY repository, workflow, current
    ), red AS (
      SELECT DISTINCT b.repository, b.workflow
      FROM branch_states s JOIN builds b ON b.id = s.last_build_id
      LEFT JOIN sync_repositories r ON r.repository_id = s.repository_id
      WHERE s.state = 'failing' AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
        AND s.branch = coalesce(r.default_branch, b.payload -> 'repository' ->> 'default_branch', b.repository_default_branch)
    )
    SELECT c.repository, c.workflow, c.runs, c.success, c.failed, c.buckets, c.bucket_runs,
           coalesce(p.success, 0) AS previous_success, coalesce(p.failed, 0) AS previous_failed,
           p.buckets AS previous_buckets, p.bucket_runs AS previous_bucket_runs,
           red.workflow IS NOT NULL AS red_now
    FROM per_period c
    LEFT JOIN per_period p ON p.repository = c.repository AND p.workflow = c.workflow AND NOT p.current
    LEFT JOIN red ON red.repository = c.repository AND red.workflow = c.workflow
    WHERE c.current AND c.runs > 0
    ORDER BY c.repository, c.workflow`);
  return rows.map((row) => ({
    repository: row.repository,
    workflow: row.workflow,
    runs: row.runs,
    success: row.success,
    failed: row.failed,
    p95: histogramPercentile(histogramFromPairs(row.buckets, row.bucket_runs), 0.95),
    previous_success: row.previous_success,
    previous_failed: row.previous_failed,
    previous_p95: histogramPercentile(histogramFromPairs(row.previous_buckets, row.previous_bucket_runs), 0.95),
    red_now: row.red_now,
  }));
}

const dayRow = z.object({ repository: z.string(), workflow: z.string(), day: z.string(), success: z.number(), failed: z.number() });

/**
 * The successes and failures per UTC day of each of `workflows` over both periods getWorkflowPeriods
 * counts (attentionPeriods), oldest first, days without a
 * decided run left out; keyed as workflowKey keys them. Read from the rollups through their
 * workflow index, for the few workflows a page shows.
 */
export async function getWorkflowDays(
  connection: CommonQueryMethods,
  options: { workflows: Array<{ repository: string; workflow: string }>; days: number; now: Date; installations?: InstallationScope },
): Promise<Map<string, DayCounts[]>> {
  if (options.workflows.length === 0) return new Map();
  const { now, days } = options;
  const both = planWindow(attentionPeriods(days, now).previousFrom, null, now, "day");
  const repositories = [...new Set(options.workflows.map((w) => w.repository))];
  const rows = await connection.any(sql.type(dayRow)`
    SELECT w.repository, w.workflow, to_char(w.day, 'YYYY-MM-DD') AS day,
           coalesce(sum(w.runs) FILTER (WHERE w.status = 'success'), 0)::int AS success,
           coalesce(sum(w.runs) FILTER (WHERE w.status = 'failed'), 0)::int AS failed
    FROM (${countedRows(both, { installations: options.installations, repositories }, { perWorkflow: true })}) w
    JOIN ${workflowPairs(options.workflows)} ON k.repository = w.repository AND k.workflow = w.workflow
    WHERE ${decidedRun("w")}
    GROUP BY w.repository, w.workflow, w.day
    HAVING sum(w.runs) > 0
    ORDER BY w.repository, w.workflow, w.day`);
  const byWorkflow = new Map<string, DayCounts[]>();
  for (const { repository, workflow, ...counts } of rows) {
    const key = workflowKey({ repository, workflow });
    const days = byWorkflow.get(key);
    if (days) days.push(counts);
    else byWorkflow.set(key, [counts]);
  }
  return byWorkflow;
}

const flakyCountRow = z.object({ repository: z.string(), workflow: z.string(), flaky: z.number() });

/**
 * The flaky runs (as metric-sql.ts counts them) of each of `workflows` created from `since` on
 * (rounded as countedWindow rounds it), read from the window's builds; keyed
 * "repository\u0000workflow"; a workflow without one is left out.
 */
export async function countFlakyRuns(
  connection: CommonQueryMethods,
  options: { workflows: Array<{ repository: string; workflow: string }>; since: Date; now: Date; installations?: InstallationScope },
): Promise<Map<string, number>> {
  if (options.workflows.length === 0) return new Map();
  const rows = await connection.any(sql.type(flakyCountRow)`
    SELECT w.repository, w.workflow, count(*)::int AS flaky
    FROM builds w
    JOIN ${workflowPairs(options.workflows)} ON k.repository = w.repository AND k.workflow = w.workflow
    WHERE ${createdIn("w", countedWindow(options.since, null, options.now))}
      AND ${inScope(sql.fragment`w.installation_id`, options.installations)} AND ${flakyRun("w")}
    GROUP BY w.repository, w.workflow`);
  return new Map(rows.map((r) => [workflowKey(r), r.flaky]));
}

/** `workflows` as a relation `k(repository, workflow)`, for a join that keeps their rows. */
function workflowPairs(workflows: Array<{ repository: string; workflow: string }>): FragmentSqlToken {
  return sql.fragment`unnest(${sql.array(workflows.map((x) => x.repository), "text")}, ${sql.array(workflows.map((x) => x.workflow), "text")}) AS k(repository, workflow)`;
}

/** How countFlakyRuns keys a workflow. */
export function workflowKey(w: { repository: string; workflow: string }): string {
  return `${w.repository}\u0000${w.workflow}`;
}
