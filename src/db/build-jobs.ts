import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { STATUSES } from "../domain/status.js";

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

/**
 * The raw JSON of a build's run as GitHub sent it: null in a placeholder (known only through its
 * jobs so far) or once PAYLOAD_RETENTION_DAYS dropped it. Null when the build is unknown.
 */
export async function getBuildPayload(connection: CommonQueryMethods, buildId: number): Promise<{ payload: unknown; placeholder: boolean } | null> {
  const row = await connection.maybeOne(sql.type(z.object({ payload: z.unknown(), placeholder: z.boolean() }))`
    SELECT payload, placeholder FROM builds WHERE id = ${buildId}`);
  return row ? { payload: row.payload ?? null, placeholder: row.placeholder } : null;
}
