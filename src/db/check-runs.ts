import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { timestamp } from "./values.js";

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

/** The next due write, locked until the transaction ends; other workers skip it. */
export async function claimDueCheckRun(tx: CommonQueryMethods, now: Date): Promise<DueCheckRun | null> {
  return tx.maybeOne(sql.type(dueRow)`
    SELECT c.repository_id, c.head_sha, c.repository, c.installation_id, c.default_branch, c.check_run_id, c.attempts,
           p.retry_after AS permission_retry_after
    FROM check_runs c LEFT JOIN check_run_permissions p ON p.installation_id = c.installation_id
    WHERE c.status = 'pending' AND c.next_attempt_at <= ${sql.timestamp(now)}
    ORDER BY c.next_attempt_at
    LIMIT 1
    FOR UPDATE OF c SKIP LOCKED`);
}

/** Written: the check run's id is remembered for the commit's next update. */
export async function markCheckRunDone(tx: CommonQueryMethods, row: DueCheckRun, checkRunId: number): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE check_runs SET status = 'done', check_run_id = ${checkRunId}, attempts = attempts + 1, last_error = NULL, updated_at = now()
    WHERE repository_id = ${row.repository_id} AND head_sha = ${row.head_sha}`);
}

/** A failed attempt: tried again at `retryAt`, or given up on when null. */
export async function markCheckRunFailed(tx: CommonQueryMethods, row: DueCheckRun, error: string, retryAt: Date | null): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE check_runs SET attempts = attempts + 1, last_error = ${error.slice(0, 2000)}, updated_at = now(),
      status = ${retryAt ? "pending" : "failed"}, next_attempt_at = coalesce(${timestamp(retryAt)}, next_attempt_at)
    WHERE repository_id = ${row.repository_id} AND head_sha = ${row.head_sha}`);
}

/** Waits without counting an attempt. */
export async function postponeCheckRun(tx: CommonQueryMethods, row: DueCheckRun, until: Date): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE check_runs SET next_attempt_at = ${sql.timestamp(until)}, updated_at = now()
    WHERE repository_id = ${row.repository_id} AND head_sha = ${row.head_sha}`);
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
 * rows due now, instead of at the end of the hour they were left alone for.
 * @returns how many rows were made due.
 */
export async function resumeCheckRuns(connection: CommonQueryMethods, installationId: number, now: Date): Promise<number> {
  await clearMissingPermission(connection, installationId);
  const result = await connection.query(sql.unsafe`
    UPDATE check_runs SET next_attempt_at = ${sql.timestamp(now)}, updated_at = now()
    WHERE installation_id = ${installationId} AND status = 'pending' AND next_attempt_at > ${sql.timestamp(now)}`);
  return result.rowCount;
}
