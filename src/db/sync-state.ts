import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { HistoryProgressRow } from "../domain/history-progress.js";
import { inScope, timestamp, type InstallationScope } from "./values.js";

/**
 * Records an installation as GitHub's listing shows it, suspension included (the listing is
 * newer than a missed or reordered `suspend`/`unsuspend` event).
 * @returns whether to poll it (false when it is suspended or was deleted), and when Runboard
 *   first saw it (runs that finished before are history).
 */
export async function upsertInstallation(
  connection: CommonQueryMethods,
  id: number,
  account: string,
  suspendedAt: Date | null = null,
): Promise<{ active: boolean; firstSeenAt: Date }> {
  const row = await connection.one(sql.type(z.object({ active: z.boolean(), first_seen_at: z.date() }))`
    INSERT INTO installations (id, account, suspended_at) VALUES (${id}, ${account}, ${timestamp(suspendedAt)})
    ON CONFLICT (id) DO UPDATE SET account = EXCLUDED.account, suspended_at = EXCLUDED.suspended_at, updated_at = now()
    RETURNING deleted_at IS NULL AND suspended_at IS NULL AS active, created_at AS first_seen_at`);
  return { active: row.active, firstSeenAt: row.first_seen_at };
}

export async function markInstallationSynced(connection: CommonQueryMethods, id: number, at: Date, error: string | null): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE installations SET
      last_synced_at = CASE WHEN ${error}::text IS NULL THEN ${sql.timestamp(at)} ELSE last_synced_at END,
      last_error = ${error}, updated_at = now()
    WHERE id = ${id}`);
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

/** A backfill from `from` has imported everything up to `to`: a restart resumes there. */
export async function saveBackfillProgress(connection: CommonQueryMethods, repositoryId: number, from: Date, to: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sync_repositories SET backfilled_from = ${sql.timestamp(from)}, backfilled_to = ${sql.timestamp(to)}, updated_at = now()
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

const unfinished = z.object({ external_id: z.number() });

/**
 * Runs of a repository stuck in queued/running for longer than their workflow usually takes
 * (twice its p95 over 30 days, at least `minimumMinutes`): their end may have been missed.
 */
export async function findStuckRuns(
  connection: CommonQueryMethods,
  options: { repositoryId: number; now: Date; minimumMinutes: number; limit: number },
): Promise<number[]> {
  return connection.anyFirst(sql.type(unfinished)`
    SELECT b.external_id FROM builds b
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

/** The installation's budget ran low: its import goes on at `until` (the rate limit's reset). */
export async function pauseHistory(connection: CommonQueryMethods, installationId: number, until: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE installations SET history_resume_at = ${sql.timestamp(until)}, updated_at = now() WHERE id = ${installationId}`);
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
