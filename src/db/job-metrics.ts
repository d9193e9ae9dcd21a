import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import { QUEUE_CUTOFF_HOURS } from "../domain/queue-time.js";
import type { UsageGroup } from "../domain/runner-minutes.js";
import { inScope, type InstallationScope } from "./values.js";

// Reads of build_jobs for queue time and runner minutes; each joins the job's run for its
// repository, workflow and installation. The rules of which jobs count are in domain/queue-time.ts.

export interface JobFilters {
  repository?: string | undefined;
  /** Exactly this set of runner labels (in any order). */
  labels?: readonly string[] | undefined;
  installations?: InstallationScope;
}

const cutoff = (now: Date) => sql.fragment`${sql.timestamp(now)} - make_interval(hours => ${QUEUE_CUTOFF_HOURS})`;

/**
 * A job that ran and whose queue time is a runner wait: it started (after it was queued), it is
 * not skipped, it did not wait for an approval, and its end arrived or may still arrive.
 */
function ranJob(now: Date): FragmentSqlToken {
  return sql.fragment`j.started_at IS NOT NULL AND j.queued_at IS NOT NULL AND j.started_at >= j.queued_at
    AND j.status <> 'skipped' AND NOT j.waited_for_approval
    AND (j.completed_at IS NOT NULL OR j.started_at > ${cutoff(now)})`;
}

function filtersOf(filters: JobFilters): FragmentSqlToken[] {
  const conditions = [inScope(sql.fragment`b.installation_id`, filters.installations)];
  if (filters.repository) conditions.push(sql.fragment`b.repository = ${filters.repository}`);
  if (filters.labels) {
    const labels = sql.array([...filters.labels], "text");
    conditions.push(sql.fragment`j.runner_labels @> ${labels} AND j.runner_labels <@ ${labels}`);
  }
  return conditions;
}

/** Jobs that ran and started in [since, until), as `ranJob` says, with the filters. */
function ranIn(window: { since: Date; until: Date; now: Date }, filters: JobFilters): FragmentSqlToken {
  return sql.fragment`${sql.join(
    [
      sql.fragment`j.started_at >= ${sql.timestamp(window.since)} AND j.started_at < ${sql.timestamp(window.until)}`,
      ranJob(window.now),
      ...filtersOf(filters),
    ],
    sql.fragment` AND `,
  )}`;
}

const percentiles = sql.fragment`
  count(*)::int AS jobs,
  (percentile_cont(0.5) WITHIN GROUP (ORDER BY j.queue_seconds))::float8 AS p50_seconds,
  (percentile_cont(0.95) WITHIN GROUP (ORDER BY j.queue_seconds))::float8 AS p95_seconds,
  max(j.queue_seconds)::float8 AS max_seconds`;

const figures = { jobs: z.number(), p50_seconds: z.number(), p95_seconds: z.number(), max_seconds: z.number() };

export const runnerQueueSchema = z.object({
  labels: z.array(z.string()).describe("The job's runner labels, sorted"),
  runner_group: z.string().nullable(),
  ...figures,
});
export type RunnerQueue = z.infer<typeof runnerQueueSchema>;

/** Queue time p50/p95 per runner label set and runner group, busiest first. */
export async function getQueueByRunner(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; now: Date } & JobFilters,
): Promise<RunnerQueue[]> {
  const rows = await connection.any(sql.type(runnerQueueSchema)`
    SELECT ARRAY(SELECT DISTINCT l FROM unnest(j.runner_labels) l ORDER BY l) AS labels, j.runner_group, ${percentiles}
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE ${ranIn(options, options)}
    GROUP BY 1, 2
    ORDER BY jobs DESC, 1, 2`);
  return [...rows];
}

export const workflowQueueSchema = z.object({ repository: z.string(), workflow: z.string(), ...figures });
export type WorkflowQueue = z.infer<typeof workflowQueueSchema>;

/** Queue time p50/p95 per repository and workflow, longest p95 first. */
export async function getQueueByWorkflow(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; now: Date; workflow?: string | undefined; limit?: number } & JobFilters,
): Promise<WorkflowQueue[]> {
  const rows = await connection.any(sql.type(workflowQueueSchema)`
    SELECT b.repository, b.workflow, ${percentiles}
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE ${ranIn(options, options)} AND ${options.workflow ? sql.fragment`b.workflow = ${options.workflow}` : sql.fragment`TRUE`}
    GROUP BY 1, 2
    ORDER BY p95_seconds DESC, 1, 2
    LIMIT ${options.limit ?? 100}`);
  return [...rows];
}

export const queueTotalSchema = z.object({
  jobs: z.number(),
  p50_seconds: z.number().nullable(),
  p95_seconds: z.number().nullable(),
  max_seconds: z.number().nullable(),
});
export type QueueTotal = z.infer<typeof queueTotalSchema>;

/** Queue time p50/p95 of every job in the window, at once. */
export async function getQueueTotal(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; now: Date; workflow?: string | undefined; repositories?: readonly string[] | undefined } & JobFilters,
): Promise<QueueTotal> {
  return connection.one(sql.type(queueTotalSchema)`
    SELECT ${percentiles}
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE ${ranIn(options, options)}
      AND ${options.workflow ? sql.fragment`b.workflow = ${options.workflow}` : sql.fragment`TRUE`}
      AND ${options.repositories ? sql.fragment`b.repository = ANY(${sql.array([...options.repositories], "text")})` : sql.fragment`TRUE`}`);
}

export const hourQueueSchema = z.object({
  hour: z.number().int().describe("Hour of the day (UTC) the jobs started"),
  jobs: z.number(),
  p95_seconds: z.number().nullable(),
  waited_seconds: z.number().describe("Queue time of all the hour's jobs, summed"),
});
export type HourQueue = z.infer<typeof hourQueueSchema>;

/** Queue time by hour of day (UTC), all 24 hours: when the runners are saturated. */
export async function getQueueByHour(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; now: Date } & JobFilters,
): Promise<HourQueue[]> {
  const rows = await connection.any(sql.type(hourQueueSchema)`
    WITH hours AS (SELECT generate_series(0, 23) AS hour),
    per_hour AS (
      SELECT extract(hour FROM j.started_at AT TIME ZONE 'UTC')::int AS hour, count(*)::int AS jobs,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY j.queue_seconds))::float8 AS p95_seconds,
             sum(j.queue_seconds)::float8 AS waited_seconds
      FROM build_jobs j JOIN builds b ON b.id = j.build_id
      WHERE ${ranIn(options, options)}
      GROUP BY 1
    )
    SELECT h.hour, coalesce(p.jobs, 0) AS jobs, p.p95_seconds, coalesce(p.waited_seconds, 0) AS waited_seconds
    FROM hours h LEFT JOIN per_hour p USING (hour)
    ORDER BY h.hour`);
  return [...rows];
}

export const waitingSchema = z.object({
  labels: z.array(z.string()),
  jobs: z.number(),
  longest_seconds: z.number(),
});
export type Waiting = z.infer<typeof waitingSchema>;

/**
 * Jobs waiting for a runner now, per label set, longest wait first: queued (not waiting for an
 * approval) within the cut-off, in the run's current attempt, of a run that has not finished (a
 * job left queued under a finished run is a delivery that never came).
 */
export async function getWaitingNow(connection: CommonQueryMethods, options: { now: Date } & JobFilters): Promise<Waiting[]> {
  const rows = await connection.any(sql.type(waitingSchema)`
    SELECT ARRAY(SELECT DISTINCT l FROM unnest(j.runner_labels) l ORDER BY l) AS labels, count(*)::int AS jobs,
           extract(epoch FROM ${sql.timestamp(options.now)} - min(j.queued_at))::float8 AS longest_seconds
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE j.status = 'queued' AND j.raw_status IS DISTINCT FROM 'waiting'
      AND j.queued_at > ${cutoff(options.now)} AND j.queued_at <= ${sql.timestamp(options.now)}
      AND j.run_attempt = b.run_attempt AND b.status IN ('queued', 'running')
      AND ${sql.join(filtersOf(options), sql.fragment` AND `)}
    GROUP BY 1
    ORDER BY longest_seconds DESC, 1`);
  return [...rows];
}

const labelQueueSchema = z.object({
  labels: z.array(z.string()),
  jobs: z.number(),
  p95_seconds: z.number(),
  over: z.number(),
});
export type LabelQueue = z.infer<typeof labelQueueSchema>;

/**
 * Per label set, the p95 queue time of jobs of some repositories that started in [since, until),
 * and how many waited longer than `overSeconds`: what the queue-time alert decides on.
 */
export async function getLabelQueue(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; now: Date; repositories: readonly string[]; overSeconds: number },
): Promise<LabelQueue[]> {
  const rows = await connection.any(sql.type(labelQueueSchema)`
    SELECT ARRAY(SELECT DISTINCT l FROM unnest(j.runner_labels) l ORDER BY l) AS labels, count(*)::int AS jobs,
           (percentile_cont(0.95) WITHIN GROUP (ORDER BY j.queue_seconds))::float8 AS p95_seconds,
           count(*) FILTER (WHERE j.queue_seconds > ${options.overSeconds})::int AS over
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE ${ranIn(options, {})} AND b.repository = ANY(${sql.array([...options.repositories], "text")})
    GROUP BY 1
    ORDER BY 1`);
  return [...rows];
}

const usageRow = z.object({
  repository: z.string(),
  workflow: z.string(),
  month: z.string(),
  labels: z.array(z.string()),
  runner_group: z.string().nullable(),
  private: z.boolean(),
  jobs: z.number(),
  minutes: z.number(),
});

/**
 * Jobs that ran and finished, started in [since, until), summed per repository, workflow,
 * month of their start (UTC), label set, runner group and whether the repository is private
 * (the stored run's `repository.private`, or what it said when its payload was dropped; unknown
 * counts as private): each job's run time rounded
 * up to the minute (domain/runner-minutes.ts `roundedMinutes`). Cancelled jobs count for the
 * time they ran; skipped ones do not. In the order of those keys, so that the same rows give the
 * same list whatever plan PostgreSQL picks.
 */
export async function getUsageGroups(
  connection: CommonQueryMethods,
  options: { since: Date; until: Date; repositories?: readonly string[] | undefined } & JobFilters,
): Promise<UsageGroup[]> {
  const rows = await connection.any(sql.type(usageRow)`
    SELECT b.repository, b.workflow, to_char(j.started_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
           ARRAY(SELECT DISTINCT l FROM unnest(j.runner_labels) l ORDER BY l) AS labels, j.runner_group,
           coalesce(b.payload->'repository'->'private', to_jsonb(b.repository_private)) IS DISTINCT FROM 'false'::jsonb AS private,
           count(*)::int AS jobs, sum(ceil(j.run_seconds / 60))::int AS minutes
    FROM build_jobs j JOIN builds b ON b.id = j.build_id
    WHERE j.started_at >= ${sql.timestamp(options.since)} AND j.started_at < ${sql.timestamp(options.until)}
      AND j.completed_at IS NOT NULL AND j.run_seconds > 0 AND j.status <> 'skipped'
      AND ${options.repositories ? sql.fragment`b.repository = ANY(${sql.array([...options.repositories], "text")})` : sql.fragment`TRUE`}
      AND ${sql.join(filtersOf(options), sql.fragment` AND `)}
    GROUP BY 1, 2, 3, 4, 5, 6
    ORDER BY 1, 2, 3, 4, 5, 6`);
  return [...rows];
}
