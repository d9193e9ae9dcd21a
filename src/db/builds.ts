import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BuildRecord, JobRecord } from "../domain/normalize.js";
import type { Delivery } from "./deliveries.js";
import { STATUSES } from "../domain/status.js";
import { jsonText, text, timestamp } from "./values.js";

const statusSchema = z.enum(STATUSES);

/** A build as the JSON API and the pages show it. */
export const buildSchema = z.object({
  id: z.number(),
  provider: z.string(),
  external_id: z.string(),
  run_attempt: z.number(),
  repository: z.string(),
  workflow: z.string(),
  status: statusSchema,
  conclusion: z.string().nullable(),
  branch: z.string().nullable(),
  commit_sha: z.string().nullable(),
  commit_message: z.string().nullable(),
  triggered_by: z.string().nullable(),
  event: z.string().nullable(),
  url: z.string().nullable(),
  created_at: z.date().nullable(),
  started_at: z.date().nullable(),
  finished_at: z.date().nullable(),
  duration_seconds: z.number().nullable(),
});
export type Build = z.infer<typeof buildSchema>;

const buildColumns = sql.fragment`
  b.id, p.slug AS provider, b.external_id::text AS external_id, b.run_attempt, b.repository, b.workflow,
  b.status, b.conclusion, b.branch, b.commit_sha, b.commit_message, b.triggered_by, b.event, b.url,
  b.created_at, b.started_at, b.finished_at, b.duration_seconds`;

export const changedRow = z.object({
  id: z.number(),
  external_id: z.number(),
  inserted: z.boolean(),
  status: statusSchema,
  run_attempt: z.number(),
  run_number: z.number().nullable(),
  repository_id: z.number(),
  repository: z.string(),
  workflow_id: z.number().nullable(),
  workflow: z.string(),
  branch: z.string().nullable(),
  finished_at: z.date().nullable(),
  installation_id: z.number().nullable(),
  commit_sha: z.string().nullable(),
});
export type ChangedBuild = z.infer<typeof changedRow>;

export interface UpsertResult<T> {
  /** False when the delivery was recorded before: nothing was written. */
  fresh: boolean;
  /** The row when it really changed; null when the data was stale or already known. */
  changed: T | null;
}

/**
 * Records the delivery (when given), inserts or moves forward one run, and notifies
 * `build_changed` listeners when it really changed: one statement, one round trip.
 * The `WHERE` refuses stale data: a lower attempt, a lower status rank, or a snapshot no newer
 * than the stored one. A delivery seen before writes nothing.
 */
export async function upsertBuild(
  connection: CommonQueryMethods,
  build: BuildRecord,
  delivery: Delivery | null = null,
): Promise<UpsertResult<ChangedBuild>> {
  const row = await connection.one(sql.type(upsertRow(changedRow))`
    WITH ${deliveryCte(delivery)},
    changed AS (
      INSERT INTO builds (
        provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
        workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
        commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload
      )
      SELECT
        ${build.providerId}::smallint, ${build.installationId}::bigint, ${build.repositoryId}::bigint, ${text(build.repository)}::text,
        ${build.externalId}::bigint, ${build.runAttempt}::int, ${build.runNumber}::int, ${build.workflowId}::bigint,
        ${text(build.workflow)}::text, ${build.status}::text, ${build.statusRank}::smallint, ${text(build.rawStatus)}::text,
        ${text(build.conclusion)}::text, ${text(build.branch)}::text, ${text(build.commitSha)}::text,
        ${text(build.commitMessage)}::text, ${text(build.triggeredBy)}::text, ${text(build.event)}::text, ${text(build.url)}::text,
        ${timestamp(build.createdAt)}, ${timestamp(build.updatedAt)}, ${timestamp(build.startedAt)},
        ${timestamp(build.finishedAt)}, ${jsonText(build.payload)}::jsonb
      WHERE EXISTS (SELECT 1 FROM delivery)
      ON CONFLICT ON CONSTRAINT builds_natural_key DO UPDATE SET
        installation_id = coalesce(EXCLUDED.installation_id, builds.installation_id),
        repository = EXCLUDED.repository,
        run_attempt = EXCLUDED.run_attempt,
        run_number = EXCLUDED.run_number,
        workflow_id = EXCLUDED.workflow_id,
        workflow = EXCLUDED.workflow,
        status = EXCLUDED.status,
        status_rank = EXCLUDED.status_rank,
        raw_status = EXCLUDED.raw_status,
        conclusion = EXCLUDED.conclusion,
        branch = EXCLUDED.branch,
        commit_sha = EXCLUDED.commit_sha,
        commit_message = EXCLUDED.commit_message,
        triggered_by = EXCLUDED.triggered_by,
        event = EXCLUDED.event,
        url = EXCLUDED.url,
        created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at,
        started_at = EXCLUDED.started_at,
        finished_at = EXCLUDED.finished_at,
        payload = EXCLUDED.payload,
        changed_at = now()
      WHERE EXCLUDED.run_attempt > builds.run_attempt
         OR (EXCLUDED.run_attempt = builds.run_attempt AND (
              EXCLUDED.status_rank > builds.status_rank
           OR (EXCLUDED.status_rank = builds.status_rank
               AND (builds.updated_at IS NULL OR EXCLUDED.updated_at > builds.updated_at))
           -- a row known only through its jobs learns the run's details
           OR (builds.payload IS NULL AND EXCLUDED.status_rank >= builds.status_rank)))
      RETURNING id, external_id, (xmax = 0) AS inserted, status, run_attempt, run_number, repository_id, repository, workflow_id,
        workflow, branch, finished_at, installation_id, commit_sha
    ), notified AS (
      SELECT pg_notify(${BUILD_CHANGED_CHANNEL}, id::text) FROM changed
    )
    SELECT EXISTS (SELECT 1 FROM delivery) AS fresh, (SELECT count(*) FROM notified)::int AS notified, c.*
    FROM (SELECT 1) AS one LEFT JOIN changed c ON true`);
  return toResult(row, changedRow);
}

/** The channel that carries the id of every build whose state really changed. */
export const BUILD_CHANGED_CHANNEL = "build_changed";

/**
 * A `delivery` CTE with one row when the work should go ahead: the delivery was recorded now
 * (a delivery seen before yields none), or there is no delivery (the poller).
 */
export function deliveryCte(delivery: Delivery | null) {
  return delivery
    ? sql.fragment`delivery AS (
        INSERT INTO deliveries (id, event, action) VALUES (${delivery.id}, ${delivery.event}, ${delivery.action})
        ON CONFLICT (id) DO NOTHING
        RETURNING id)`
    : sql.fragment`delivery AS (SELECT NULL::text AS id)`;
}

/** The one row such a statement returns: `fresh`, `notified` and the changed row's columns, all nullable. */
export function upsertRow<T extends z.AnyZodObject>(changed: T) {
  const nullable = Object.fromEntries(Object.entries(changed.shape).map(([k, v]) => [k, (v as z.ZodTypeAny).nullable()]));
  return z.object({ fresh: z.boolean(), notified: z.number(), ...nullable });
}

export function toResult<T extends z.AnyZodObject>(row: Record<string, unknown>, changed: T): UpsertResult<z.infer<T>> {
  return { fresh: row.fresh === true, changed: row.id == null ? null : changed.parse(row) };
}

/**
 * Makes sure a run exists for a job that arrived before its run: a queued row with what the
 * job knows, no payload and no GitHub timestamps, so the run's own events always replace it.
 */
export async function ensureBuildForJob(connection: CommonQueryMethods, job: JobRecord): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt,
      workflow, status, status_rank, branch, commit_sha, created_at
    ) VALUES (
      ${job.providerId}, ${job.installationId}, ${job.repositoryId}, ${text(job.repository)}, ${job.runId},
      ${job.runAttempt}, ${text(job.workflow)}, 'queued', 1, ${text(job.branch)}, ${text(job.commitSha)},
      ${timestamp(job.queuedAt)}
    )
    ON CONFLICT ON CONSTRAINT builds_natural_key DO NOTHING`);
}

export interface BuildFilters {
  status?: string | undefined;
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  triggeredBy?: string | undefined;
  /** Only builds created at or after this time. */
  since?: Date | undefined;
}

function filterConditions(filters: BuildFilters) {
  const conditions = [sql.fragment`TRUE`];
  if (filters.status) conditions.push(sql.fragment`b.status = ${filters.status}`);
  if (filters.repository) conditions.push(sql.fragment`b.repository = ${filters.repository}`);
  if (filters.branch) conditions.push(sql.fragment`b.branch = ${filters.branch}`);
  if (filters.workflow) conditions.push(sql.fragment`b.workflow = ${filters.workflow}`);
  if (filters.triggeredBy) conditions.push(sql.fragment`b.triggered_by = ${filters.triggeredBy}`);
  if (filters.since) conditions.push(sql.fragment`b.created_at >= ${sql.timestamp(filters.since)}`);
  return sql.join(conditions, sql.fragment` AND `);
}

/**
 * Builds newest first, with the number that match the filters.
 * @param page.countLimit count at most this many (pages show "10,000+"), so a page's cost does
 *   not grow with history; the API counts exactly.
 */
export async function listBuilds(
  connection: CommonQueryMethods,
  filters: BuildFilters,
  page: { limit: number; offset: number; countLimit?: number },
): Promise<{ builds: Build[]; total: number }> {
  const where = filterConditions(filters);
  const [builds, total] = await Promise.all([
    connection.any(sql.type(buildSchema)`
      SELECT ${buildColumns}
      FROM builds b JOIN providers p ON p.id = b.provider_id
      WHERE ${where}
      ORDER BY b.created_at DESC NULLS LAST, b.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`),
    connection.oneFirst(sql.type(z.object({ total: z.number() }))`
      SELECT count(*)::int AS total FROM (
        SELECT 1 FROM builds b WHERE ${where} ${page.countLimit ? sql.fragment`LIMIT ${page.countLimit}` : sql.fragment``}
      ) matching`),
  ]);
  return { builds: [...builds], total };
}

export const buildJobSchema = z.object({
  id: z.number(),
  run_attempt: z.number(),
  name: z.string(),
  status: statusSchema,
  conclusion: z.string().nullable(),
  runner_labels: z.array(z.string()),
  runner_name: z.string().nullable(),
  queue_seconds: z.number().nullable(),
  run_seconds: z.number().nullable(),
  failed_step: z.string().nullable(),
  url: z.string().nullable(),
  started_at: z.date().nullable(),
  completed_at: z.date().nullable(),
});
export type BuildJob = z.infer<typeof buildJobSchema>;

export type BuildDetail = Build & { provider_name: string; jobs: BuildJob[] };

/** One build with its provider's name and the jobs of its current attempt, or null. */
export async function getBuild(connection: CommonQueryMethods, id: number): Promise<BuildDetail | null> {
  const build = await connection.maybeOne(sql.type(buildSchema.extend({ provider_name: z.string() }))`
    SELECT ${buildColumns}, p.name AS provider_name
    FROM builds b JOIN providers p ON p.id = b.provider_id
    WHERE b.id = ${id}`);
  if (!build) {
    return null;
  }
  const jobs = await connection.any(sql.type(buildJobSchema)`
    SELECT id, run_attempt, name, status, conclusion, runner_labels, runner_name, queue_seconds,
           run_seconds, failed_step, url, started_at, completed_at
    FROM build_jobs
    WHERE build_id = ${id} AND run_attempt = ${build.run_attempt}
    ORDER BY started_at NULLS LAST, id`);
  return { ...build, jobs: [...jobs] };
}
