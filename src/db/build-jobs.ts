import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { JobRecord } from "../domain/normalize.js";
import { STATUSES } from "../domain/status.js";
import { BUILD_CHANGED_CHANNEL, deliveryCte, toResult, upsertRow, type UpsertResult } from "./builds.js";
import type { Delivery } from "./deliveries.js";
import { jsonText, text, timestamp } from "./values.js";

const changedJob = z.object({ id: z.number(), build_id: z.number() });

/**
 * Records the delivery (when given) and inserts or moves forward one job, linked to its run's
 * row (which must exist: see `ensureBuildForJob`), notifying `build_changed` when it really
 * changed; one statement. A snapshot with a lower status rank, or the same rank and no more
 * finished steps, is refused.
 */
export async function upsertJob(
  connection: CommonQueryMethods,
  job: JobRecord,
  delivery: Delivery | null = null,
): Promise<UpsertResult<z.infer<typeof changedJob>>> {
  const row = await connection.one(sql.type(upsertRow(changedJob))`
    WITH ${deliveryCte(delivery)},
    changed AS (
      INSERT INTO build_jobs (
        id, build_id, run_attempt, name, status, status_rank, progress, raw_status, conclusion,
        runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
        completed_at, payload
      )
      SELECT
        ${job.id}::bigint, b.id, ${job.runAttempt}::int, ${text(job.name)}::text, ${job.status}::text, ${job.statusRank}::smallint,
        ${job.progress}::smallint, ${text(job.rawStatus)}::text, ${text(job.conclusion)}::text,
        ${sql.array(job.runnerLabels.map((l) => text(l) ?? ""), "text")}, ${text(job.runnerName)}::text, ${text(job.runnerGroup)}::text,
        ${jsonText(job.steps)}::jsonb, ${text(job.failedStep)}::text, ${text(job.url)}::text, ${timestamp(job.queuedAt)},
        ${timestamp(job.startedAt)}, ${timestamp(job.completedAt)}, ${jsonText(job.payload)}::jsonb
      FROM builds b
      WHERE b.provider_id = ${job.providerId} AND b.repository_id = ${job.repositoryId} AND b.external_id = ${job.runId}
        AND EXISTS (SELECT 1 FROM delivery)
      ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name,
        status = EXCLUDED.status,
        status_rank = EXCLUDED.status_rank,
        progress = EXCLUDED.progress,
        raw_status = EXCLUDED.raw_status,
        conclusion = EXCLUDED.conclusion,
        runner_labels = EXCLUDED.runner_labels,
        runner_name = EXCLUDED.runner_name,
        runner_group = EXCLUDED.runner_group,
        steps = EXCLUDED.steps,
        failed_step = EXCLUDED.failed_step,
        url = EXCLUDED.url,
        queued_at = EXCLUDED.queued_at,
        started_at = EXCLUDED.started_at,
        completed_at = EXCLUDED.completed_at,
        payload = EXCLUDED.payload,
        changed_at = now()
      WHERE EXCLUDED.status_rank > build_jobs.status_rank
         OR (EXCLUDED.status_rank = build_jobs.status_rank AND EXCLUDED.progress > build_jobs.progress)
      RETURNING id, build_id
    ), notified AS (
      SELECT pg_notify(${BUILD_CHANGED_CHANNEL}, build_id::text) FROM changed
    )
    SELECT EXISTS (SELECT 1 FROM delivery) AS fresh, (SELECT count(*) FROM notified)::int AS notified, c.*
    FROM (SELECT 1) AS one LEFT JOIN changed c ON true`);
  return toResult(row, changedJob);
}

const stepSchema = z.object({
  number: z.number(),
  name: z.string(),
  status: z.string(),
  conclusion: z.string().nullable(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});

const jobDetail = z.object({
  id: z.number(),
  run_attempt: z.number(),
  name: z.string(),
  status: z.enum(STATUSES),
  conclusion: z.string().nullable(),
  runner_labels: z.array(z.string()),
  runner_name: z.string().nullable(),
  failed_step: z.string().nullable(),
  url: z.string().nullable(),
  queued_at: z.date().nullable(),
  started_at: z.date().nullable(),
  completed_at: z.date().nullable(),
  queue_seconds: z.number().nullable(),
  run_seconds: z.number().nullable(),
  steps: z.array(stepSchema.passthrough()).catch([]),
});
export type JobDetail = z.infer<typeof jobDetail>;

/** Every job of every attempt of a build, with steps, oldest attempt first. */
export async function listJobsOfBuild(connection: CommonQueryMethods, buildId: number): Promise<JobDetail[]> {
  const rows = await connection.any(sql.type(jobDetail)`
    SELECT id, run_attempt, name, status, conclusion, runner_labels, runner_name, failed_step, url,
           queued_at, started_at, completed_at, queue_seconds, run_seconds, steps
    FROM build_jobs WHERE build_id = ${buildId}
    ORDER BY run_attempt, coalesce(started_at, queued_at) NULLS LAST, id`);
  return [...rows];
}

/** The raw JSON of a build's run as GitHub sent it, or null. */
export async function getBuildPayload(connection: CommonQueryMethods, buildId: number): Promise<unknown> {
  return connection.maybeOneFirst(sql.type(z.object({ payload: z.unknown() }))`
    SELECT payload FROM builds WHERE id = ${buildId}`);
}
