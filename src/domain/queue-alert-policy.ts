/** A label set alerts about its queue time at most this often. */
export const QUEUE_ALERT_INTERVAL_MS = 60 * 60_000;

/** The window whose p95 queue time is compared with the threshold. */
export const QUEUE_ALERT_WINDOW_MS = 60 * 60_000;

export interface QueueAlertState {
  state: "over" | "under";
  lastAlertAt: Date | null;
}

export interface QueueAlertDecision {
  next: QueueAlertState;
  alert: "queue_slow" | "queue_recovered" | null;
}

/**
 * Decides a label set's queue-time alert from its p95 over the last hour:
 * - over the threshold: "queue_slow", unless one went out less than an hour ago (a queue that
 *   stays slow is said again each hour at most; one that flaps is said once an hour);
 * - back at or under it after a "queue_slow": "queue_recovered", once;
 * - no job started in the hour (null): nothing changes, since a queue where nothing starts may
 *   be stuck rather than well.
 */
export function decideQueueAlert(
  current: QueueAlertState | null,
  p95Seconds: number | null,
  thresholdSeconds: number,
  now: Date,
): QueueAlertDecision {
  const state = current ?? { state: "under", lastAlertAt: null };
  if (p95Seconds === null) return { next: state, alert: null };
  if (p95Seconds > thresholdSeconds) {
    const quiet = state.lastAlertAt !== null && now.getTime() - state.lastAlertAt.getTime() < QUEUE_ALERT_INTERVAL_MS;
    return quiet ? { next: state, alert: null } : { next: { state: "over", lastAlertAt: now }, alert: "queue_slow" };
  }
  if (state.state === "over") return { next: { state: "under", lastAlertAt: state.lastAlertAt }, alert: "queue_recovered" };
  return { next: state, alert: null };
}
