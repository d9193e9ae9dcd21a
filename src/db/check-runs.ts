import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

const dueRow = z.object({
  repository_id: z.number(),
  head_sha: z.string(),
  repository: z.string(),
  installation_id: z.number(),
  default_branch: z.string().nullable(),
  check_run_id: z.number().nullable(),
  attempts: z.number(),
  permission_retry_after: z.date().nullable(),
});
export type DueCheckRun = z.infer<typeof dueRow>;

/** The check-runs outbox, one row per commit: claims return its key (see db/outbox.ts). */
export const CHECK_RUNS_OUTBOX = {
  table: "check_runs",
  key: z.object({ repository_id: z.number(), head_sha: z.string() }),
  doneStatus: "done",
} as const;

/** What a worker needs to write the check run of a commit it claimed. */
export async function getCheckRunToSend(
  connection: CommonQueryMethods,
  key: { repository_id: number; head_sha: string },
): Promise<DueCheckRun | null> {
  return connection.maybeOne(sql.type(dueRow)`
    SELECT c.repository_id, c.head_sha, c.repository, c.installation_id, c.default_branch, c.check_run_id, c.attempts,
           p.retry_after AS permission_retry_after
    FROM check_runs c LEFT JOIN check_run_permissions p ON p.installation_id = c.installation_id
    WHERE c.repository_id = ${key.repository_id} AND c.head_sha = ${key.head_sha}`);
}

/**
 * Remembers that an installation lacks `checks: write` until `retryAfter`.
 * @returns true when this is news (so it is logged once), false when it was known.
 */
export async function recordMissingPermission(tx: CommonQueryMethods, installationId: number, now: Date, retryAfter: Date): Promise<boolean> {
  const row = await tx.maybeOne(sql.type(z.object({ fresh: z.boolean() }))`
    INSERT INTO check_run_permissions (installation_id, missing_since, retry_after)
    VALUES (${installationId}, ${sql.timestamp(now)}, ${sql.timestamp(retryAfter)})
    ON CONFLICT (installation_id) DO UPDATE SET retry_after = EXCLUDED.retry_after
    RETURNING (xmax = 0) AS fresh`);
  return row?.fresh ?? false;
}

/** The permission works again: forget that it was missing. */
export async function clearMissingPermission(tx: CommonQueryMethods, installationId: number): Promise<void> {
  await tx.query(sql.unsafe`DELETE FROM check_run_permissions WHERE installation_id = ${installationId}`);
}

/**
 * The installation's permissions changed (an `installation` event with the action
 * `new_permissions_accepted`): forget that `checks: write` was missing and make its waiting
 * rows due now, instead of at the end of the hour they were left alone for (a row being sent
 * keeps its lease).
 * @returns how many rows were made due.
 */
export async function resumeCheckRuns(connection: CommonQueryMethods, installationId: number, now: Date): Promise<number> {
  await clearMissingPermission(connection, installationId);
  const result = await connection.query(sql.unsafe`
    UPDATE check_runs SET next_attempt_at = ${sql.timestamp(now)}, updated_at = now()
    WHERE installation_id = ${installationId} AND status = 'pending' AND next_attempt_at > ${sql.timestamp(now)}
      AND lease_token IS NULL`);
  return result.rowCount;
}

/**
 * Something the commit's check run shows changed outside ingest (a failed job's excerpt was
 * read): its row, if the commit has one, is written again, keeping a turn already waiting.
 */
export async function requeueCheckRun(connection: CommonQueryMethods, key: { repository_id: number; head_sha: string }, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE check_runs SET status = 'pending', attempts = 0, last_error = NULL, version = version + 1,
      next_attempt_at = CASE WHEN status = 'pending' THEN next_attempt_at ELSE ${sql.timestamp(now)} END, updated_at = now()
    WHERE repository_id = ${key.repository_id} AND head_sha = ${key.head_sha}`);
}
