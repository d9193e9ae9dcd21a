import { sql, type CommonQueryMethods, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import type { BuildCursor } from "../domain/build-cursor.js";
import { STATUSES, UNFINISHED_STATUSES } from "../domain/status.js";
import { inScope, type InstallationScope } from "./values.js";

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

/** The channel that carries the id of every build whose state really changed (runboard_write_batch notifies it). */
export const BUILD_CHANGED_CHANNEL = "build_changed";

export interface BuildFilters {
  status?: string | undefined;
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  triggeredBy?: string | undefined;
  /** Only builds created at or after this time. */
  since?: Date | undefined;
  /** Only builds created before this time. */
  until?: Date | undefined;
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
  if (filters.until) conditions.push(sql.fragment`b.created_at < ${sql.timestamp(filters.until)}`);
  return sql.join(conditions, sql.fragment` AND `);
}

/**
 * The rows a list reads: builds, or for a queued or running filter only those builds, found
 * through unfinished_builds (a few in a long history, so neither a page nor its count walks
 * the history to find them; builds has no index holding status, see migrations/0022).
 */
function listSource(filters: BuildFilters) {
  return filters.status && (UNFINISHED_STATUSES as readonly string[]).includes(filters.status)
    ? sql.fragment`unfinished_builds u JOIN builds b ON b.id = u.build_id AND u.status = ${filters.status}`
    : sql.fragment`builds b`;
}

/** The list's order: newest first, builds without a created_at last, then by id (every index of builds' filters keeps it). */
const listOrder = sql.fragment`ORDER BY b.created_at DESC NULLS LAST, b.id DESC`;
/** A build's exact position in that order, for the next keyset page's cursor. */
const positionColumn = sql.fragment`to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS position_at`;
const listedRow = buildSchema.extend({ position_at: z.string().nullable() });

/**
 * The builds after `cursor` in the list's order, as conditions each of which an index can
 * walk from the cursor on: a row comparison never matches a NULL created_at, so the builds
 * without one (listed last) are a second condition of their own.
 */
function afterCursor(cursor: BuildCursor) {
  if (cursor.createdAt === null) return [sql.fragment`b.created_at IS NULL AND b.id < ${cursor.id}`];
  const createdAt = sql.fragment`(${cursor.createdAt}::timestamp AT TIME ZONE 'UTC')`;
  return [sql.fragment`(b.created_at, b.id) < (${createdAt}, ${cursor.id})`, sql.fragment`b.created_at IS NULL`];
}

/**
 * Builds newest first, with the number that match the filters, from `offset` or, for deep
 * pages, after `before` (keyset: its cost does not grow with the depth, and builds arriving
 * meanwhile neither shift the page nor repeat on it).
 * @param page.countLimit count at most this many (pages show "10,000+"), so a page's cost does
 *   not grow with history; the API counts exactly.
 * @returns `next`, the cursor of the page after this one, or null when no build follows.
 */
export async function listBuilds(
  connection: CommonQueryMethods,
  filters: BuildFilters,
  page: { limit: number; offset?: number; before?: BuildCursor | undefined; countLimit?: number },
): Promise<{ builds: Build[]; total: number; next: BuildCursor | null }> {
  const where = filterConditions(filters);
  const from = listSource(filters);
  // One more than shown, to know whether a page follows.
  const take = page.limit + 1;
  const select = (condition: FragmentSqlToken, offset: number) => sql.fragment`
    SELECT ${buildColumns}, ${positionColumn}
    FROM ${from} JOIN providers p ON p.id = b.provider_id
    WHERE ${where} AND ${condition}
    ${listOrder}
    LIMIT ${take} OFFSET ${offset}`;
  const listed = page.before
    ? sql.type(listedRow)`
        SELECT * FROM (${sql.join(afterCursor(page.before).map((condition) => sql.fragment`(${select(condition, 0)})`), sql.fragment` UNION ALL `)}) b
        ${listOrder}
        LIMIT ${take}`
    : sql.type(listedRow)`${select(sql.fragment`TRUE`, page.offset ?? 0)}`;
  const [rows, total] = await Promise.all([
    connection.any(listed),
    connection.oneFirst(sql.type(z.object({ total: z.number() }))`
      SELECT count(*)::int AS total FROM (
        SELECT 1 FROM ${from} WHERE ${where} ${page.countLimit ? sql.fragment`LIMIT ${page.countLimit}` : sql.fragment``}
      ) matching`),
  ]);
  const shown = rows.slice(0, page.limit);
  const last = shown.at(-1);
  const next = rows.length > page.limit && last ? { createdAt: last.position_at, id: last.id } : null;
  return { builds: shown.map(({ position_at: _position, ...build }) => build), total, next };
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

const unfinished = z.object({ external_id: z.number() });

/**
 * Runs of a repository stuck in queued/running for longer than their workflow usually takes
 * (twice its p95 over 30 days, at least `minimumMinutes`): their end may have been missed.
 * Read from unfinished_builds, so the look does not scan the repository's history.
 */
export async function findStuckRuns(
  connection: CommonQueryMethods,
  options: { repositoryId: number; now: Date; minimumMinutes: number; limit: number },
): Promise<number[]> {
  return connection.anyFirst(sql.type(unfinished)`
    SELECT b.external_id FROM unfinished_builds u JOIN builds b ON b.id = u.build_id
    WHERE b.repository_id = ${options.repositoryId} AND b.status IN ('queued', 'running')
      AND coalesce(b.started_at, b.created_at) < ${sql.timestamp(options.now)} - greatest(
        make_interval(mins => ${options.minimumMinutes}),
        coalesce((SELECT 2 * percentile_cont(0.95) WITHIN GROUP (ORDER BY o.duration_seconds) * interval '1 second'
                  FROM builds o
                  WHERE o.repository_id = b.repository_id AND o.workflow = b.workflow AND o.status IN ('success', 'failed')
                    AND o.created_at > ${sql.timestamp(options.now)} - interval '30 days'), interval '0'))
    ORDER BY b.created_at
    LIMIT ${options.limit}`) as Promise<number[]>;
}

const runWithoutJobs = z.object({ id: z.number(), external_id: z.number(), run_attempt: z.number() });

/**
 * Runs of a repository that passed or failed in the last day, at least two minutes ago and
 * after the installation was first seen, with not one job stored and never checked: their
 * `workflow_job` deliveries were lost.
 */
export async function findRunsWithoutJobs(
  connection: CommonQueryMethods,
  options: { repositoryId: number; now: Date; limit: number },
): Promise<Array<z.infer<typeof runWithoutJobs>>> {
  const rows = await connection.any(sql.type(runWithoutJobs)`
    SELECT b.id, b.external_id, b.run_attempt FROM builds b
    WHERE b.repository_id = ${options.repositoryId} AND b.status IN ('success', 'failed') AND b.jobs_checked_at IS NULL
      AND b.finished_at BETWEEN ${sql.timestamp(options.now)} - interval '1 day' AND ${sql.timestamp(options.now)} - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM build_jobs j WHERE j.build_id = b.id)
      -- history (finished before the installation was first seen) never had job deliveries
      AND b.finished_at > (SELECT i.created_at FROM installations i WHERE i.id = b.installation_id)
    ORDER BY b.finished_at
    LIMIT ${options.limit}`);
  return [...rows];
}

/** The run's jobs were read from GitHub: it is not looked at again. */
export async function markJobsChecked(connection: CommonQueryMethods, buildId: number, at: Date): Promise<void> {
  await connection.query(sql.unsafe`UPDATE builds SET jobs_checked_at = ${sql.timestamp(at)} WHERE id = ${buildId}`);
}

/** Repositories with builds in the last 30 days that `installations` may see, for the builds page's filter (200 at most). */
export async function listRecentRepositories(connection: CommonQueryMethods, now: Date, installations?: InstallationScope): Promise<string[]> {
  const rows = await connection.anyFirst(sql.type(z.object({ repository: z.string() }))`
    SELECT DISTINCT repository FROM builds b
    WHERE created_at >= ${sql.timestamp(now)} - interval '30 days' AND ${inScope(sql.fragment`b.installation_id`, installations)}
    ORDER BY repository LIMIT 200`);
  return [...rows];
}

const changedBuildRow = z.object({
  id: z.number(),
  installation_id: z.number().nullable(),
  repository: z.string(),
  workflow: z.string(),
  branch: z.string().nullable(),
});
export type ChangedBuildSummary = z.infer<typeof changedBuildRow>;

/** What live pages need to know of changed builds: whose they are and what they concern (one query for many). */
export async function describeChangedBuilds(connection: CommonQueryMethods, ids: readonly number[]): Promise<ChangedBuildSummary[]> {
  if (ids.length === 0) return [];
  const rows = await connection.any(sql.type(changedBuildRow)`
    SELECT id, installation_id, repository, workflow, branch FROM builds WHERE id = ANY(${sql.array([...ids], "int8")})`);
  return [...rows];
}
