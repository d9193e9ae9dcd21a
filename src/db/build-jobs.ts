import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { JobRecord } from "../domain/normalize.js";
import { STATUSES } from "../domain/status.js";
import { BUILD_CHANGED_CHANNEL } from "./builds.js";
import { isoText, jsonText, text } from "./values.js";

/**
 * Inserts or moves forward jobs (at most one snapshot per job: pick the newest first), linked
 * to their run's row (see upsertBuilds), in one statement, notifying `build_changed` for
 * each that really changed. A snapshot with a lower status rank, or the same rank and no more
 * finished steps, is refused.
 * @returns the jobs that really changed.
 */
export async function upsertJobs(tx: CommonQueryMethods, jobs: JobRecord[]): Promise<Array<{ id: number; build_id: number }>> {
  if (jobs.length === 0) return [];
  const rows = [...jobs].sort((a, b) => a.id - b.id);
  const col = <T>(pick: (j: JobRecord) => T) => rows.map(pick);
  const changed = await tx.any(sql.type(z.object({ id: z.number(), build_id: z.number(), notified: z.unknown() }))`
    WITH changed AS (
      INSERT INTO build_jobs (
        id, build_id, run_attempt, name, status, status_rank, progress, raw_status, conclusion,
        runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
        completed_at, payload
      )
      SELECT t.id, b.id, t.run_attempt, t.name, t.status, t.status_rank, t.progress, t.raw_status, t.conclusion,
             t.runner_labels::text[], t.runner_name, t.runner_group, t.steps::jsonb, t.failed_step, t.url,
             t.queued_at::timestamptz, t.started_at::timestamptz, t.completed_at::timestamptz, t.payload::jsonb
      FROM unnest(
        ${sql.array(col((j) => j.id), "int8")}, ${sql.array(col((j) => j.providerId), "int2")},
        ${sql.array(col((j) => j.repositoryId), "int8")}, ${sql.array(col((j) => j.runId), "int8")},
        ${sql.array(col((j) => j.runAttempt), "int4")}, ${sql.array(col((j) => text(j.name)), "text")},
        ${sql.array(col((j) => j.status), "text")}, ${sql.array(col((j) => j.statusRank), "int2")},
        ${sql.array(col((j) => j.progress), "int2")}, ${sql.array(col((j) => text(j.rawStatus)), "text")},
        ${sql.array(col((j) => text(j.conclusion)), "text")},
        ${sql.array(col((j) => JSON.stringify(j.runnerLabels.map((l) => text(l) ?? "")).replace(/^\[/, "{").replace(/\]$/, "}")), "text")},
        ${sql.array(col((j) => text(j.runnerName)), "text")}, ${sql.array(col((j) => text(j.runnerGroup)), "text")},
        ${sql.array(col((j) => jsonText(j.steps)), "text")}, ${sql.array(col((j) => text(j.failedStep)), "text")},
        ${sql.array(col((j) => text(j.url)), "text")}, ${sql.array(col((j) => isoText(j.queuedAt)), "text")},
        ${sql.array(col((j) => isoText(j.startedAt)), "text")}, ${sql.array(col((j) => isoText(j.completedAt)), "text")},
        ${sql.array(col((j) => jsonText(j.payload)), "text")}
      ) AS t(id, provider_id, repository_id, run_id, run_attempt, name, status, status_rank, progress, raw_status,
             conclusion, runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
             completed_at, payload)
      JOIN builds b ON b.provider_id = t.provider_id AND b.repository_id = t.repository_id AND b.external_id = t.run_id
      ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, status = EXCLUDED.status, status_rank = EXCLUDED.status_rank,
        progress = EXCLUDED.progress, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
        runner_labels = EXCLUDED.runner_labels, runner_name = EXCLUDED.runner_name,
        runner_group = EXCLUDED.runner_group, steps = EXCLUDED.steps, failed_step = EXCLUDED.failed_step,
        url = EXCLUDED.url, queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at,
        completed_at = EXCLUDED.completed_at, payload = EXCLUDED.payload, changed_at = now()
      WHERE EXCLUDED.status_rank > build_jobs.status_rank
         OR (EXCLUDED.status_rank = build_jobs.status_rank AND EXCLUDED.progress > build_jobs.progress)
      RETURNING id, build_id
    )
    SELECT c.id, c.build_id, pg_notify(${BUILD_CHANGED_CHANNEL}, c.build_id::text) AS notified FROM changed c`);
  return changed.map(({ id, build_id }) => ({ id, build_id }));
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
