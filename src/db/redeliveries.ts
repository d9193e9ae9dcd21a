import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { jsonText } from "./values.js";

/** One entry of GitHub's webhook delivery log, as a redelivery row keeps it. */
export interface LoggedDelivery {
  guid: string;
  /** The log entry's own id, which a redelivery is asked for by. */
  deliveryId: number;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
}

/** A redelivery this worker holds the lease of. */
export interface ClaimedRedelivery {
  guid: string;
  deliveryId: number;
  event: string;
  /** POSTs started for the guid, this one included. */
  attempts: number;
}

/** What GitHub answered to a redelivery request. */
export type RedeliveryOutcome =
  | { outcome: "requested"; statusCode: number }
  | { outcome: "refused"; statusCode: number; error: string }
  /** `retryAfter` null: given up. */
  | { outcome: "error"; statusCode: number | null; error: string; retryAfter: Date | null };

const claimedRow = z.object({ guid: z.string(), delivery_id: z.number(), event: z.string(), attempts: z.number() });

const toClaimed = (row: z.infer<typeof claimedRow>): ClaimedRedelivery => ({
  guid: row.guid,
  deliveryId: row.delivery_id,
  event: row.event,
  attempts: row.attempts,
});

/**
 * The insert-first claim of a failed delivery's guid: the row is created before anything is
 * sent, so of two replicas (or a pass and a restart) reading the same log only the one whose
 * insert lands asks GitHub. A guid already stored in `deliveries` (it reached Runboard after
 * all) gets no row.
 * @param claim.token the lease to hold while sending now; null queues the row, due at `now`,
 *   for a later pass (this pass has made all the requests it may).
 * @returns whether this call created the row.
 */
export async function claimRedelivery(
  connection: CommonQueryMethods,
  delivery: LoggedDelivery,
  claim: { now: Date; token: string | null; leaseUntil: Date },
): Promise<boolean> {
  const inserted = await connection.maybeOneFirst(sql.type(z.object({ guid: z.string() }))`
    INSERT INTO redeliveries (guid, delivery_id, event, action, installation_id, repository_id, requested_at, outcome, attempts, retry_after, lease_token)
    SELECT ${delivery.guid}, ${delivery.deliveryId}, ${delivery.event}, ${delivery.action}, ${delivery.installationId}, ${delivery.repositoryId},
      ${sql.timestamp(claim.now)}, 'pending', ${claim.token ? 1 : 0},
      ${sql.timestamp(claim.token ? claim.leaseUntil : claim.now)}, ${claim.token}::uuid
    WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE id = ${delivery.guid})
    ON CONFLICT (guid) DO NOTHING
    RETURNING guid`);
  return inserted !== null;
}

/**
 * Claims the next redelivery due again (queued, errored, or a lease that ran out: its worker
 * died) with a lease of its own, `FOR UPDATE SKIP LOCKED` so that replicas never take the same
 * row. Guids that reached Runboard meanwhile are left alone.
 */
export async function claimDueRedelivery(
  connection: CommonQueryMethods,
  claim: { now: Date; token: string; leaseUntil: Date },
): Promise<ClaimedRedelivery | null> {
  const row = await connection.maybeOne(sql.type(claimedRow)`
    WITH due AS (
      SELECT r.guid FROM redeliveries r
      WHERE r.outcome IN ('pending', 'error') AND r.retry_after <= ${sql.timestamp(claim.now)}
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = r.guid)
      ORDER BY r.retry_after
      LIMIT 1
      FOR UPDATE OF r SKIP LOCKED
    )
    UPDATE redeliveries r SET outcome = 'pending', lease_token = ${claim.token}::uuid, retry_after = ${sql.timestamp(claim.leaseUntil)},
      attempts = r.attempts + 1, updated_at = now()
    FROM due
    WHERE r.guid = due.guid
    RETURNING r.guid, r.delivery_id, r.event, r.attempts`);
  return row ? toClaimed(row) : null;
}

/**
 * Records GitHub's answer for a claimed redelivery, if the lease is still `token`'s.
 * A guid the delivery log showed delivered meanwhile stays delivered.
 * @returns false when the lease was lost (it ran out and another worker took the row).
 */
export async function recordRedeliveryOutcome(
  connection: CommonQueryMethods,
  guid: string,
  token: string,
  result: RedeliveryOutcome,
): Promise<boolean> {
  const error = result.outcome === "requested" ? null : result.error.slice(0, 2000);
  const retryAfter = result.outcome === "error" && result.retryAfter ? sql.timestamp(result.retryAfter) : null;
  const updated = await connection.query(sql.unsafe`
    UPDATE redeliveries SET
      outcome = CASE WHEN outcome = 'delivered' THEN 'delivered' ELSE ${result.outcome} END,
      status_code = ${result.statusCode}, error = ${error}, retry_after = ${retryAfter}, lease_token = NULL, updated_at = now()
    WHERE guid = ${guid} AND lease_token = ${token}::uuid`);
  return updated.rowCount === 1;
}

/**
 * Learns from redeliveries seen in GitHub's log (Runboard's, or anyone's from the app's
 * settings): a guid whose redelivery was answered 2xx needs nothing more, now or when its older
 * failed attempts are read on a later pass; a guid whose request ended in an error did reach
 * GitHub if a redelivery of it appears after the request, so it is not asked for again.
 */
export async function recordLoggedRedeliveries(
  connection: CommonQueryMethods,
  entries: ReadonlyArray<LoggedDelivery & { deliveredAt: Date; succeeded: boolean }>,
): Promise<void> {
  const delivered = entries.filter((e) => e.succeeded);
  const failed = entries.filter((e) => !e.succeeded);
  if (delivered.length > 0) {
    await connection.query(sql.unsafe`
      INSERT INTO redeliveries (guid, delivery_id, event, action, installation_id, repository_id, outcome)
      SELECT DISTINCT ON (e.guid) e.guid, e.delivery_id, e.event, e.action, e.installation_id, e.repository_id, 'delivered'
      FROM jsonb_to_recordset(${jsonText(delivered.map(rowOf))}::jsonb)
        AS e(guid text, delivery_id bigint, event text, action text, installation_id bigint, repository_id bigint, delivered_at timestamptz)
      ORDER BY e.guid, e.delivery_id DESC
      ON CONFLICT (guid) DO UPDATE SET outcome = 'delivered', retry_after = NULL, updated_at = now()
      WHERE redeliveries.outcome <> 'delivered'`);
  }
  if (failed.length > 0) {
    await connection.query(sql.unsafe`
      UPDATE redeliveries r SET outcome = 'requested', retry_after = NULL, updated_at = now()
      FROM jsonb_to_recordset(${jsonText(failed.map(rowOf))}::jsonb) AS e(guid text, delivered_at timestamptz)
      WHERE r.guid = e.guid AND r.outcome = 'error' AND r.requested_at <= e.delivered_at`);
  }
}

function rowOf(e: LoggedDelivery & { deliveredAt: Date }) {
  return {
    guid: e.guid,
    delivery_id: e.deliveryId,
    event: e.event,
    action: e.action,
    installation_id: e.installationId,
    repository_id: e.repositoryId,
    delivered_at: e.deliveredAt.toISOString(),
  };
}
