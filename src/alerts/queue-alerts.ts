import { FAILURE_READ_DAYS } from "../db/failure-excerpts.js";
import type { WriteContext } from "../db/write-batch.js";

/** What the alert decision needs beyond the database: the environment's channels and the clock. */
export interface AlertingContext {
  /** ALERT_EMAIL_TO, when email (SMTP_URL) is configured; null when it is not. */
  email: { to: string[] } | null;
  /** SLACK_ALERT_CHANNEL (may be null: routes can name channels), when SLACK_BOT_TOKEN is set; null otherwise. */
  slack: { channel: string | null } | null;
  now: () => Date;
  /** Sending waits this long so that the run's last job events can arrive first. */
  sendDelayMs: number;
}

/**
 * The alerting context as the write function takes it (`p_context` of runboard_write_batch,
 * migrations/0023_write_lock_order.sql), which decides and queues alerts in the statement that
 * writes the runs:
 * 1. what says nothing about a branch is skipped (unfinished, cancelled, skipped, no branch);
 * 2. each branch is locked, its state read, and each run decided in turn by the policy of
 *    `domain/alert-policy.ts` (two runs of one branch in a batch see each other's decision); the
 *    new state is kept for every branch: it is also the dashboard's "broken now";
 * 3. for a branch and workflow the rules watch (`domain/alert-rules.ts`), one outbox row per
 *    channel, skipped with the reason when a channel is off or muted; history says nothing, so
 *    a branch red at import shows as broken without an alert, and the next live result alerts.
 * It also carries how far back failed jobs are read (FAILURE_READ_DAYS).
 */
export function writeContext(context: AlertingContext): WriteContext {
  return {
    email_to: context.email ? context.email.to : null,
    slack: context.slack ? { channel: context.slack.channel } : null,
    send_delay_ms: context.sendDelayMs,
    failure_read_days: FAILURE_READ_DAYS,
  };
}
