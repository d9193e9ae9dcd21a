import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import { decidedRun, flakyRun } from "./metric-sql.js";

// The figures of a digest: builds and jobs of some repositories in one period. Rates and trends
// are worked out in domain/ and alerts/digest-content.ts.

export interface DigestScope {
  repositories: readonly string[];
  start: Date;
  end: Date;
}

function builds(scope: DigestScope): FragmentSqlToken {
  return sql.fragment`b.repository = ANY(${sql.array([...scope.repositories], "text")})
    AND b.created_at >= ${sql.timestamp(scope.start)} AND b.created_at < ${sql.timestamp(scope.end)}`;
}

const countsRow = z.object({ total: z.number(), success: z.number(), failed: z.number() });
export type DigestCounts = z.infer<typeof countsRow>;

/** Runs created in the period: all, succeeded, failed. */
export async function getDigestCounts(connection: CommonQueryMethods, scope: DigestScope): Promise<DigestCounts> {
  return connection.one(sql.type(countsRow)`
    SELECT count(*)::int AS total, count(*) FILTER (WHERE b.status = 'success')::int AS success,
           count(*) FILTER (WHERE b.status = 'failed')::int AS failed
    FROM builds b WHERE ${builds(scope)}`);
}

/** The repositories among `repositories` (null: all) with at least one run created in [start, end). */
export async function listActiveRepositories(connection: CommonQueryMethods, period: { start: Date; end: Date }): Promise<string[]> {
  const rows = await connection.anyFirst(sql.type(z.object({ repository: z.string() }))`
    SELECT DISTINCT repository FROM builds
    WHERE created_at >= ${sql.timestamp(period.start)} AND created_at < ${sql.timestamp(period.end)}
    ORDER BY repository`);
  return [...rows];
}

const workflowCountRow = z.object({ repository: z.string(), workflow: z.string(), decided: z.number(), failed: z.number(), flaky: z.number() });
export type WorkflowCounts = z.infer<typeof workflowCountRow>;

/** Per workflow: decided, failed and flaky runs (metric-sql.ts) in the period. */
export async function getWorkflowCounts(connection: CommonQueryMethods, scope: DigestScope): Promise<WorkflowCounts[]> {
  const rows = await connection.any(sql.type(workflowCountRow)`
    WITH w AS (SELECT b.* FROM builds b WHERE ${builds(scope)})
    SELECT repository, workflow, count(*) FILTER (WHERE ${decidedRun("w")})::int AS decided,
           count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*) FILTER (WHERE ${flakyRun("w")})::int AS flaky
    FROM w GROUP BY repository, workflow`);
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

const durationRow = z.object({ repository: z.string(), workflow: z.string(), runs: z.number(), p50: z.number().nullable() });
export type WorkflowDuration = z.infer<typeof durationRow>;

/** p50 duration of each workflow's decided runs in the period. */
export async function getWorkflowDurations(connection: CommonQueryMethods, scope: DigestScope): Promise<WorkflowDuration[]> {
  const rows = await connection.any(sql.type(durationRow)`
    SELECT b.repository, b.workflow, count(*)::int AS runs,
           (percentile_cont(0.5) WITHIN GROUP (ORDER BY b.duration_seconds))::float8 AS p50
    FROM builds b WHERE ${builds(scope)} AND ${decidedRun("b")} AND b.duration_seconds IS NOT NULL
    GROUP BY 1, 2`);
  return [...rows];
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
