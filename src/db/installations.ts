import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { jsonText, text, timestamp } from "./values.js";

export interface InstallationState {
  id: number;
  account: string;
  repositorySelection: string | null;
  permissions: Record<string, string>;
  suspendedAt: Date | null;
}

/**
 * Records what an `installation` event says about an installation (created, permissions
 * accepted, suspended, unsuspended). A deleted installation stays deleted: GitHub never
 * brings one back (a new install gets a new id), so a late or redelivered event can't either.
 * @returns false when the installation was deleted and nothing changed.
 */
export async function saveInstallationState(connection: CommonQueryMethods, state: InstallationState): Promise<boolean> {
  const row = await connection.maybeOne(sql.type(z.object({ id: z.number() }))`
    INSERT INTO installations (id, account, repository_selection, permissions, suspended_at)
    VALUES (${state.id}, ${text(state.account)}, ${state.repositorySelection}, ${jsonText(state.permissions)}::jsonb,
            ${timestamp(state.suspendedAt)})
    ON CONFLICT (id) DO UPDATE SET
      account = EXCLUDED.account, repository_selection = EXCLUDED.repository_selection,
      permissions = EXCLUDED.permissions, suspended_at = EXCLUDED.suspended_at, updated_at = now()
    WHERE installations.deleted_at IS NULL
    RETURNING id`);
  return row !== null;
}

/**
 * The app was uninstalled: the installation is kept (with its builds) as deleted, and its
 * repositories leave the poller's list.
 */
export async function markInstallationDeleted(connection: CommonQueryMethods, id: number, account: string, at: Date): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO installations (id, account, deleted_at) VALUES (${id}, ${text(account)}, ${sql.timestamp(at)})
    ON CONFLICT (id) DO UPDATE SET deleted_at = coalesce(installations.deleted_at, EXCLUDED.deleted_at), updated_at = now()`);
  await connection.query(sql.unsafe`DELETE FROM sync_repositories WHERE installation_id = ${id}`);
}

/** Whether the installation is known as deleted (its events then change nothing). */
export async function isInstallationDeleted(connection: CommonQueryMethods, id: number): Promise<boolean> {
  const row = await connection.maybeOne(sql.type(z.object({ deleted: z.boolean() }))`
    SELECT deleted_at IS NOT NULL AS deleted FROM installations WHERE id = ${id}`);
  return row?.deleted ?? false;
}

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

const gaugeRow = z.object({
  active: z.number(),
  suspended: z.number(),
  deleted: z.number(),
  lag_seconds: z.number().nullable(),
});
export type InstallationGauges = z.infer<typeof gaugeRow>;

/**
 * Installations by state, and how far behind the poller is: seconds since the least recently
 * synced active installation was last read through (since it was recorded, if never).
 */
export async function getInstallationGauges(connection: CommonQueryMethods, now: Date): Promise<InstallationGauges> {
  return connection.one(sql.type(gaugeRow)`
    SELECT count(*) FILTER (WHERE deleted_at IS NULL AND suspended_at IS NULL)::int AS active,
           count(*) FILTER (WHERE deleted_at IS NULL AND suspended_at IS NOT NULL)::int AS suspended,
           count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted,
           extract(epoch FROM ${sql.timestamp(now)} - min(coalesce(last_synced_at, created_at))
                   FILTER (WHERE deleted_at IS NULL AND suspended_at IS NULL))::float8 AS lag_seconds
    FROM installations`);
}
