import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import { histogramFrom, histogramPercentile } from "../domain/duration-histogram.js";
import { countedWindow, planWindow, type CountedWindow } from "../domain/rollup-window.js";
import { countedRows, createdIn } from "./build-rollups.js";
import { decidedRun, flakyRun } from "./metric-sql.js";

// The figures of a digest: builds and jobs of some repositories in one period. Rates and trends
// are worked out in domain/ and alerts/digest-content.ts. Counts and durations come from the
// rollups (see countedRows); flaky runs, jobs and time to green from the builds of the period.

export interface DigestScope extends DigestPeriod {
  repositories: readonly string[];
}

/**
 * A period [start, end) read at `now`: now decides which hours the rollups still hold (see
 * domain/rollup-window.ts), so a period and the one before it, read at the same now, meet
 * exactly, however long ago they ended.
 */
export interface DigestPeriod {
  start: Date;
  end: Date;
  now: Date;
}

/** The period as it is counted (see domain/rollup-window.ts). */
function counted(period: DigestPeriod): CountedWindow {
  return countedWindow(period.start, period.end, period.now);
}

function builds(scope: DigestScope): FragmentSqlToken {
  return sql.fragment`b.repository = ANY(${sql.array([...scope.repositories], "text")}) AND ${createdIn("b", counted(scope))}`;
}

/** The counted rows (see countedRows) of the scope's period. */
function countedRowsOf(scope: DigestPeriod & { repositories: readonly string[] | null }) {
  return countedRows(planWindow(scope.start, scope.end, scope.now), { repositories: scope.repositories }, { perWorkflow: true });
}

const countsRow = z.object({ total: z.number(), success: z.number(), failed: z.number() });
export type DigestCounts = z.infer<typeof countsRow>;

/** Runs created in the period: all, succeeded, failed. */
export async function getDigestCounts(connection: CommonQueryMethods, scope: DigestScope): Promise<DigestCounts> {
  return connection.one(sql.type(countsRow)`
    WITH w AS (${countedRowsOf(scope)})
    SELECT coalesce(sum(runs), 0)::int AS total, coalesce(sum(runs) FILTER (WHERE status = 'success'), 0)::int AS success,
           coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed
    FROM w`);
}

/** The repositories with at least one run created in [start, end). */
export async function listActiveRepositories(connection: CommonQueryMethods, period: DigestPeriod): Promise<string[]> {
  const rows = await connection.anyFirst(sql.type(z.object({ repository: z.string() }))`
    WITH w AS (${countedRowsOf({ ...period, repositories: null })})
    SELECT repository FROM w GROUP BY repository HAVING sum(runs) > 0 ORDER BY repository`);
  return [...rows];
}

const workflowCountRow = z.object({ repository: z.string(), workflow: z.string(), decided: z.number(), failed: z.number(), flaky: z.number() });
export type WorkflowCounts = z.infer<typeof workflowCountRow>;

/** Per workflow: decided and failed runs (rollups), and flaky runs (metric-sql.ts) in the period. */
export async function getWorkflowCounts(connection: CommonQueryMethods, scope: DigestScope): Promise<WorkflowCounts[]> {
  const rows = await connection.any(sql.type(workflowCountRow)`
    WITH w AS (${countedRowsOf(scope)}),
    counts AS (
      SELECT repository, workflow, coalesce(sum(runs) FILTER (WHERE ${decidedRun("w")}), 0)::int AS decided,
             coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0)::int AS failed
      FROM w GROUP BY repository, workflow HAVING sum(runs) > 0
    ), flaky AS (
      SELECT b.repository, b.workflow, count(*)::int AS flaky
      FROM builds b WHERE ${builds(scope)} AND ${flakyRun("b")}
      GROUP BY b.repository, b.workflow
    )
    SELECT c.repository, c.workflow, c.decided, c.failed, coalesce(f.flaky, 0) AS flaky
    FROM counts c LEFT JOIN flaky f USING (repository, workflow)
    ORDER BY c.repository, c.workflow`);
  return [...rows];
}

const jobCountRow = z.object({ repository: z.string(), workflow: z.string(), job: z.string(), failed: z.number(), flaky: z.number() });
export type JobCounts = z.infer<typeof jobCountRow>;

/**
 * Per job name: how often it failed in the period's runs, and how often it failed on one attempt
 * and passed on a later attempt of the same run (flaky). Only jobs with either.
 */
export async function getJobCounts(connection: CommonQueryMethods, scope: DigestScope): Promise<JobCounts[]> {
  const rows = await connection.any(sql.type(jobCountRow)`
    SELECT b.repository, b.workflow, j.name AS job,
           count(*) FILTER (WHERE j.status = 'failed')::int AS failed,
           count(*) FILTER (WHERE j.status = 'failed' AND EXISTS (
             SELECT 1 FROM build_jobs later WHERE later.build_id = j.build_id AND later.name = j.name
               AND later.run_attempt > j.run_attempt AND later.status = 'success'))::int AS flaky
    FROM builds b JOIN build_jobs j ON j.build_id = b.id
    WHERE ${builds(scope)} AND j.status = 'failed'
    GROUP BY 1, 2, 3`);
  return [...rows];
}

const durationRow = z.object({ repository: z.string(), workflow: z.string(), runs: z.number(), histogram: z.record(z.string(), z.number()).nullable() });
export interface WorkflowDuration {
  repository: string;
  workflow: string;
  runs: number;
  /** From duration buckets: within 2% of the exact median. */
  p50: number | null;
}

/** p50 duration of each workflow's decided runs in the period. */
export async function getWorkflowDurations(connection: CommonQueryMethods, scope: DigestScope): Promise<WorkflowDuration[]> {
  const rows = await connection.any(sql.type(durationRow)`
    WITH w AS (${countedRowsOf(scope)})
    SELECT m.repository, m.workflow, sum(m.n)::int AS runs, jsonb_object_agg(m.bucket, m.n) AS histogram
    FROM (
      SELECT w.repository, w.workflow, k.bucket, sum(k.n)::int AS n
      FROM w CROSS JOIN LATERAL unnest(w.buckets, w.bucket_runs) AS k(bucket, n)
      WHERE ${decidedRun("w")}
      GROUP BY 1, 2, 3
    ) m
    WHERE m.n <> 0
    GROUP BY m.repository, m.workflow
    ORDER BY m.repository, m.workflow`);
  return rows.map(({ histogram, ...row }) => ({ ...row, p50: histogramPercentile(histogramFrom(histogram), 0.5) }));
}

const greenRow = z.object({ fixes: z.number(), median_seconds: z.number().nullable() });

/**
 * Time to green of the failure streaks that ended in the period (per repository, workflow and
 * branch: from the first failed run's end to the next success's end), streaks that began up to
 * 30 days before it included: how many, and the median.
 */
export async function getTimeToGreen(connection: CommonQueryMethods, scope: DigestScope): Promise<{ fixes: number; median_seconds: number | null }> {
  return connection.one(sql.type(greenRow)`
    WITH r AS (
      SELECT b.repository, b.workflow, b.branch, b.status, b.finished_at,
             count(*) FILTER (WHERE b.status = 'success') OVER (
               PARTITION BY b.repository, b.workflow, b.branch ORDER BY b.finished_at, b.id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS greens_before
      FROM builds b
      WHERE b.repository = ANY(${sql.array([...scope.repositories], "text")}) AND ${decidedRun("b")}
        AND b.finished_at >= ${sql.timestamp(scope.start)} - interval '30 days' AND b.finished_at < ${sql.timestamp(scope.end)}
    ), streaks AS (
      SELECT min(finished_at) FILTER (WHERE status = 'failed') AS broke, min(finished_at) FILTER (WHERE status = 'success') AS fixed
      FROM r GROUP BY repository, workflow, branch, greens_before
    )
    SELECT count(*)::int AS fixes,
           (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fixed - broke)))::float8 AS median_seconds
    FROM streaks WHERE broke IS NOT NULL AND fixed IS NOT NULL AND fixed >= ${sql.timestamp(scope.start)}`);
}
