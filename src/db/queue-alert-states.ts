import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { QueueAlertState } from "../domain/queue-alert-policy.js";

const stateRow = z.object({ state: z.enum(["over", "under"]), last_alert_at: z.date().nullable() });

/**
 * Locks the queue-alert state of one key (a route and a label set) until the transaction ends,
 * creating it as "under" when new, so that replicas checking at once decide one after the other.
 */
export async function lockQueueAlertState(tx: CommonQueryMethods, key: string): Promise<QueueAlertState> {
  await tx.query(sql.unsafe`INSERT INTO queue_alert_states (label_set, state) VALUES (${key}, 'under') ON CONFLICT (label_set) DO NOTHING`);
  const row = await tx.one(sql.type(stateRow)`SELECT state, last_alert_at FROM queue_alert_states WHERE label_set = ${key} FOR UPDATE`);
  return { state: row.state, lastAlertAt: row.last_alert_at };
}

/** Writes a key's state decided under the lock of {@link lockQueueAlertState}. */
export async function saveQueueAlertState(tx: CommonQueryMethods, key: string, state: QueueAlertState): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE queue_alert_states
    SET state = ${state.state}, last_alert_at = ${state.lastAlertAt ? sql.timestamp(state.lastAlertAt) : null}, updated_at = now()
    WHERE label_set = ${key}`);
}
