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

/** The installation's budget ran low: its import goes on at `until` (the rate limit's reset). */
export async function pauseHistory(connection: CommonQueryMethods, installationId: number, until: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE installations SET history_resume_at = ${sql.timestamp(until)}, updated_at = now() WHERE id = ${installationId}`);
}
