import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { HistoryProgressRow } from "../domain/history-progress.js";
import { inScope, text, timestamp, type InstallationScope } from "./values.js";

/**
 * Repositories an installation can now read: added to the poller's list (a repository that
 * moved from another installation moves with its sync state).
 */
export async function addSyncRepositories(
  connection: CommonQueryMethods,
  installationId: number,
  repositories: ReadonlyArray<{ id: number; fullName: string }>,
): Promise<void> {
  if (repositories.length === 0) return;
  await connection.query(sql.unsafe`
    INSERT INTO sync_repositories (repository_id, installation_id, full_name)
    SELECT * FROM unnest(${sql.array(repositories.map((r) => r.id), "int8")}, ${sql.array(repositories.map(() => installationId), "int8")},
                         ${sql.array(repositories.map((r) => text(r.fullName)), "text")})
    ON CONFLICT (repository_id) DO UPDATE SET
      installation_id = EXCLUDED.installation_id, full_name = EXCLUDED.full_name, updated_at = now()`);
}

/** Repositories an installation can no longer read: off the poller's list. */
export async function removeSyncRepositories(connection: CommonQueryMethods, installationId: number, repositoryIds: readonly number[]): Promise<void> {
  if (repositoryIds.length === 0) return;
  await connection.query(sql.unsafe`
    DELETE FROM sync_repositories
    WHERE installation_id = ${installationId} AND repository_id = ANY(${sql.array([...repositoryIds], "int8")})`);
}

/**
 * Keeps only the repositories GitHub just listed for an installation: one removed while its
 * `installation_repositories` event was missed (or arrived before the `added` it undoes) leaves
 * the list at the next poll.
 */
export async function pruneSyncRepositories(connection: CommonQueryMethods, installationId: number, listedIds: readonly number[]): Promise<void> {
  await connection.query(sql.unsafe`
    DELETE FROM sync_repositories
    WHERE installation_id = ${installationId} AND NOT (repository_id = ANY(${sql.array([...listedIds], "int8")}))`);
}

const syncRepository = z.object({
  repository_id: z.number(),
  installation_id: z.number(),
  full_name: z.string(),
  default_branch: z.string().nullable(),
  cursor: z.date().nullable(),
  etag: z.string().nullable(),
  etag_url: z.string().nullable(),
  backfilled_from: z.date().nullable(),
  backfilled_to: z.date().nullable(),
});
export type SyncRepository = z.infer<typeof syncRepository>;

/** Records a repository an installation can see, and returns its sync state. */
export async function upsertSyncRepository(
  connection: CommonQueryMethods,
  repo: { id: number; installationId: number; fullName: string; defaultBranch: string | null },
): Promise<SyncRepository> {
  return connection.one(sql.type(syncRepository)`
    INSERT INTO sync_repositories (repository_id, installation_id, full_name, default_branch)
    VALUES (${repo.id}, ${repo.installationId}, ${repo.fullName}, ${repo.defaultBranch})
    ON CONFLICT (repository_id) DO UPDATE SET
      installation_id = EXCLUDED.installation_id, full_name = EXCLUDED.full_name,
      default_branch = coalesce(EXCLUDED.default_branch, sync_repositories.default_branch), updated_at = now()
    RETURNING repository_id, installation_id, full_name, default_branch, cursor, etag, etag_url, backfilled_from, backfilled_to`);
}

export async function savePollState(
  connection: CommonQueryMethods,
  repositoryId: number,
  state: { cursor: Date | null; etag: string | null; etagUrl: string | null; polledAt: Date; error: string | null },
): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sync_repositories SET cursor = coalesce(${timestamp(state.cursor)}, cursor), etag = ${state.etag},
      etag_url = ${state.etagUrl}, last_polled_at = ${sql.timestamp(state.polledAt)}, last_error = ${state.error}, updated_at = now()
    WHERE repository_id = ${repositoryId}`);
}

const freshnessRow = z.object({
  installation_id: z.number(),
  account: z.string(),
  last_synced_at: z.date().nullable(),
  last_error: z.string().nullable(),
  repositories: z.number(),
  repositories_with_errors: z.number(),
  oldest_poll: z.date().nullable(),
});
export type InstallationFreshness = z.infer<typeof freshnessRow>;

/** Per installation: when it was last synced and how many of its repositories failed to poll. */
export async function getFreshness(connection: CommonQueryMethods, installations?: InstallationScope): Promise<InstallationFreshness[]> {
  const rows = await connection.any(sql.type(freshnessRow)`
    SELECT i.id AS installation_id, i.account, i.last_synced_at, i.last_error,
           count(r.repository_id)::int AS repositories,
           count(r.repository_id) FILTER (WHERE r.last_error IS NOT NULL)::int AS repositories_with_errors,
           min(r.last_polled_at) AS oldest_poll
    FROM installations i LEFT JOIN sync_repositories r ON r.installation_id = i.id
    WHERE ${inScope(sql.fragment`i.id`, installations)} AND i.deleted_at IS NULL
    GROUP BY i.id ORDER BY i.account`);
  return [...rows];
}

const pendingHistory = syncRepository.extend({
  history_since: z.date().nullable(),
  first_seen_at: z.date(),
});
export type PendingHistory = z.infer<typeof pendingHistory>;

/**
 * Repositories whose history is still to import, of installations that are active and not
 * waiting for their rate limit's reset; oldest installation first.
 */
export async function listPendingHistory(connection: CommonQueryMethods, now: Date): Promise<PendingHistory[]> {
  const rows = await connection.any(sql.type(pendingHistory)`
    SELECT r.repository_id, r.installation_id, r.full_name, r.default_branch, r.cursor, r.etag, r.etag_url,
           r.backfilled_from, r.backfilled_to, r.history_since, i.created_at AS first_seen_at
    FROM sync_repositories r JOIN installations i ON i.id = r.installation_id
    WHERE r.history_state = 'pending' AND i.deleted_at IS NULL AND i.suspended_at IS NULL
      AND (i.history_resume_at IS NULL OR i.history_resume_at <= ${sql.timestamp(now)})
    ORDER BY i.created_at, r.repository_id`);
  return [...rows];
}

/** The import of a repository begins (or goes on): its window starts at `since`, kept from its first start. */
export async function startHistory(connection: CommonQueryMethods, repositoryId: number, since: Date, now: Date): Promise<Date> {
  return connection.oneFirst(sql.type(z.object({ since: z.date() }))`
    UPDATE sync_repositories SET history_since = coalesce(history_since, ${sql.timestamp(since)}),
      history_started_at = coalesce(history_started_at, ${sql.timestamp(now)}), updated_at = now()
    WHERE repository_id = ${repositoryId}
    RETURNING history_since AS since`);
}

/** A window of the import is stored: a restart resumes after `to`. */
export async function saveHistoryProgress(connection: CommonQueryMethods, repositoryId: number, since: Date, to: Date, runs: number): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sync_repositories SET backfilled_from = ${sql.timestamp(since)}, backfilled_to = ${sql.timestamp(to)},
      history_runs = history_runs + ${runs}, updated_at = now()
    WHERE repository_id = ${repositoryId}`);
}

export async function finishHistory(connection: CommonQueryMethods, repositoryId: number, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sync_repositories SET history_state = 'done', history_done_at = ${sql.timestamp(now)}, updated_at = now()
    WHERE repository_id = ${repositoryId}`);
}

const historyProgressRow = z.object({
  installation_id: z.number(),
  account: z.string(),
  repositories: z.number(),
  repositories_done: z.number(),
  runs: z.number(),
  started_at: z.date().nullable(),
  fraction: z.number(),
  resume_at: z.date().nullable(),
});

/** Per installation with an import under way: how far it got. */
export async function getHistoryProgress(connection: CommonQueryMethods, now: Date, installations?: InstallationScope): Promise<HistoryProgressRow[]> {
  const rows = await connection.any(sql.type(historyProgressRow)`
    SELECT i.id AS installation_id, i.account,
           count(*)::int AS repositories,
           count(*) FILTER (WHERE r.history_state = 'done')::int AS repositories_done,
           coalesce(sum(r.history_runs), 0)::int AS runs,
           min(r.history_started_at) AS started_at,
           avg(CASE
             WHEN r.history_state = 'done' THEN 1
             WHEN r.history_since IS NULL OR r.backfilled_to IS NULL OR r.backfilled_from > r.history_since THEN 0
             ELSE least(1, greatest(0, extract(epoch FROM r.backfilled_to - r.history_since)
                                      / nullif(extract(epoch FROM ${sql.timestamp(now)} - r.history_since), 0)))
           END)::float8 AS fraction,
           i.history_resume_at AS resume_at
    FROM installations i JOIN sync_repositories r ON r.installation_id = i.id
    WHERE ${inScope(sql.fragment`i.id`, installations)} AND i.deleted_at IS NULL
    GROUP BY i.id
    HAVING count(*) FILTER (WHERE r.history_state = 'pending') > 0
    ORDER BY i.account`);
  return [...rows];
}

/**
 * Asks for the history since `since` of every known repository (or one): those already imported
 * from a later point are imported again from `since`; a stored window is not read twice.
 * @returns how many repositories will be imported.
 */
export async function requestHistory(connection: CommonQueryMethods, since: Date, repository?: string): Promise<number> {
  const result = await connection.query(sql.unsafe`
    UPDATE sync_repositories SET
      history_state = CASE WHEN history_state = 'done' AND history_since <= ${sql.timestamp(since)} THEN 'done' ELSE 'pending' END,
      history_since = least(coalesce(history_since, ${sql.timestamp(since)}), ${sql.timestamp(since)}),
      updated_at = now()
    WHERE ${repository ? sql.fragment`full_name = ${repository}` : sql.fragment`true`}`);
  return result.rowCount;
}
