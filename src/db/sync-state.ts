import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { inScope, timestamp, type InstallationScope } from "./values.js";

/**
 * Records an installation as GitHub's listing shows it, suspension included (the listing is
 * newer than a missed or reordered `suspend`/`unsuspend` event).
 * @returns whether to poll it: false when it is suspended or was deleted.
 */
export async function upsertInstallation(
  connection: CommonQueryMethods,
  id: number,
  account: string,
  suspendedAt: Date | null = null,
): Promise<boolean> {
  return connection.oneFirst(sql.type(z.object({ active: z.boolean() }))`
    INSERT INTO installations (id, account, suspended_at) VALUES (${id}, ${account}, ${timestamp(suspendedAt)})
    ON CONFLICT (id) DO UPDATE SET account = EXCLUDED.account, suspended_at = EXCLUDED.suspended_at, updated_at = now()
    RETURNING deleted_at IS NULL AND suspended_at IS NULL AS active`);
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
