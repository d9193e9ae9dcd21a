import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import type { BuildRecord, JobRecord } from "../domain/normalize.js";
import { STATUSES } from "../domain/status.js";
import { inScope, isoText, jsonText, text, type InstallationScope } from "./values.js";

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

/** The channel that carries the id of every build whose state really changed. */
export const BUILD_CHANGED_CHANNEL = "build_changed";

/**
 * Makes sure a run row exists for each job, for jobs that arrive before their run: a queued row
 * with what the job knows, no payload and no GitHub timestamps, so the run's own events always
 * replace it. A statement of its own would not see run rows written earlier in the same
 * statement, hence jobs whose run is in the same batch are left to the run's own upsert.
 */
function placeholdersForJobs(jobs: JobRecord[]): FragmentSqlToken {
  const rows = [...jobs].sort((a, b) => a.repositoryId - b.repositoryId || a.runId - b.runId);
  const col = <T>(pick: (j: JobRecord) => T) => rows.map(pick);
  return sql.fragment`
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt,
      workflow, status, status_rank, branch, commit_sha, created_at
    )
    SELECT provider_id, installation_id, repository_id, repository, external_id, run_attempt,
           workflow, 'queued', 1, branch, commit_sha, created_at::timestamptz
    FROM unnest(
      ${sql.array(col((j) => j.providerId), "int2")}, ${sql.array(col((j) => j.installationId), "int8")},
      ${sql.array(col((j) => j.repositoryId), "int8")}, ${sql.array(col((j) => text(j.repository)), "text")},
      ${sql.array(col((j) => j.runId), "int8")}, ${sql.array(col((j) => j.runAttempt), "int4")},
      ${sql.array(col((j) => text(j.workflow)), "text")}, ${sql.array(col((j) => text(j.branch)), "text")},
      ${sql.array(col((j) => text(j.commitSha)), "text")}, ${sql.array(col((j) => isoText(j.queuedAt)), "text")}
    ) AS t(provider_id, installation_id, repository_id, repository, external_id, run_attempt, workflow, branch, commit_sha, created_at)
    ON CONFLICT ON CONSTRAINT builds_natural_key DO NOTHING`;
}


/**
 * Inserts or moves forward runs (at most one snapshot per run: pick the newest first, see
 * domain/newer.ts), in one statement for the whole batch, and notifies `build_changed` for
 * each run that really changed. The `WHERE` refuses stale data: a lower attempt, a lower status
 * rank, or a snapshot no newer than the stored one. Rows go in key order, so two replicas'
 * batches lock them in the same order. In the same statement, makes sure a run row exists for
 * each of `jobs` whose run is not among `builds` (see {@link placeholdersForJobs}): one round
 * trip for both.
 * @returns the rows that really changed (placeholders are not among them).
 */
export async function upsertBuilds(tx: CommonQueryMethods, builds: BuildRecord[], jobs: JobRecord[] = []): Promise<ChangedBuild[]> {
  const runKeys = new Set(builds.map((b) => `${b.providerId}:${b.repositoryId}:${b.externalId}`));
  const orphans = jobs.filter((j) => !runKeys.has(`${j.providerId}:${j.repositoryId}:${j.runId}`));
  if (builds.length === 0 && orphans.length === 0) return [];
  const rows = [...builds].sort((a, b) => a.repositoryId - b.repositoryId || a.externalId - b.externalId);
  const col = <T>(pick: (b: BuildRecord) => T) => rows.map(pick);
  const changed = await tx.any(sql.type(changedRow.extend({ notified: z.unknown() }))`
    WITH changed AS (
      INSERT INTO builds (
        provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
        workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
        commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload
      )
      SELECT provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
             workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
             commit_message, triggered_by, event, url, created_at::timestamptz, updated_at::timestamptz,
             started_at::timestamptz, finished_at::timestamptz, payload::jsonb
      FROM unnest(
        ${sql.array(col((b) => b.providerId), "int2")}, ${sql.array(col((b) => b.installationId), "int8")},
        ${sql.array(col((b) => b.repositoryId), "int8")}, ${sql.array(col((b) => text(b.repository)), "text")},
        ${sql.array(col((b) => b.externalId), "int8")}, ${sql.array(col((b) => b.runAttempt), "int4")},
        ${sql.array(col((b) => b.runNumber), "int4")}, ${sql.array(col((b) => b.workflowId), "int8")},
        ${sql.array(col((b) => text(b.workflow)), "text")}, ${sql.array(col((b) => b.status), "text")},
        ${sql.array(col((b) => b.statusRank), "int2")}, ${sql.array(col((b) => text(b.rawStatus)), "text")},
        ${sql.array(col((b) => text(b.conclusion)), "text")}, ${sql.array(col((b) => text(b.branch)), "text")},
        ${sql.array(col((b) => text(b.commitSha)), "text")}, ${sql.array(col((b) => text(b.commitMessage)), "text")},
        ${sql.array(col((b) => text(b.triggeredBy)), "text")}, ${sql.array(col((b) => text(b.event)), "text")},
        ${sql.array(col((b) => text(b.url)), "text")}, ${sql.array(col((b) => isoText(b.createdAt)), "text")},
        ${sql.array(col((b) => isoText(b.updatedAt)), "text")}, ${sql.array(col((b) => isoText(b.startedAt)), "text")},
        ${sql.array(col((b) => isoText(b.finishedAt)), "text")}, ${sql.array(col((b) => jsonText(b.payload)), "text")}
      ) AS t(provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
             workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
             commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload)
      ON CONFLICT ON CONSTRAINT builds_natural_key DO UPDATE SET
        installation_id = coalesce(EXCLUDED.installation_id, builds.installation_id),
        repository = EXCLUDED.repository, run_attempt = EXCLUDED.run_attempt, run_number = EXCLUDED.run_number,
        workflow_id = EXCLUDED.workflow_id, workflow = EXCLUDED.workflow, status = EXCLUDED.status,
        status_rank = EXCLUDED.status_rank, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
        branch = EXCLUDED.branch, commit_sha = EXCLUDED.commit_sha, commit_message = EXCLUDED.commit_message,
        triggered_by = EXCLUDED.triggered_by, event = EXCLUDED.event, url = EXCLUDED.url,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, started_at = EXCLUDED.started_at,
        finished_at = EXCLUDED.finished_at, payload = EXCLUDED.payload, changed_at = now()
      WHERE EXCLUDED.run_attempt > builds.run_attempt
         OR (EXCLUDED.run_attempt = builds.run_attempt AND (
              EXCLUDED.status_rank > builds.status_rank
           OR (EXCLUDED.status_rank = builds.status_rank
               AND (builds.updated_at IS NULL OR EXCLUDED.updated_at > builds.updated_at))
           OR (builds.payload IS NULL AND EXCLUDED.status_rank >= builds.status_rank)))
      RETURNING id, external_id, (xmax = 0) AS inserted, status, run_attempt, run_number, repository_id, repository, workflow_id,
        workflow, branch, finished_at, installation_id, commit_sha
    )${orphans.length > 0 ? sql.fragment`, placeholders AS (${placeholdersForJobs(orphans)})` : sql.fragment``}
    SELECT c.*, pg_notify(${BUILD_CHANGED_CHANNEL}, c.id::text) AS notified FROM changed c`);
  return changed.map(({ notified: _notified, ...row }) => row);
}

export interface BuildFilters {
  status?: string | undefined;
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  triggeredBy?: string | undefined;
  /** Only builds created at or after this time. */
  since?: Date | undefined;
  installations?: InstallationScope;
}

function filterConditions(filters: BuildFilters) {
  const conditions = [inScope(sql.fragment`b.installation_id`, filters.installations)];
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

/**
 * One build with its provider's name and the jobs of its current attempt, or null (also when
 * it belongs to an installation outside `installations`).
 */
export async function getBuild(
  connection: CommonQueryMethods,
  id: number,
  installations?: InstallationScope,
): Promise<BuildDetail | null> {
  const build = await connection.maybeOne(sql.type(buildSchema.extend({ provider_name: z.string() }))`
    SELECT ${buildColumns}, p.name AS provider_name
    FROM builds b JOIN providers p ON p.id = b.provider_id
    WHERE b.id = ${id} AND ${inScope(sql.fragment`b.installation_id`, installations)}`);
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
