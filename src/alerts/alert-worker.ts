import type { Logger } from "pino";
import type { CommonQueryMethods, DatabasePool } from "slonik";
import { claimDueAlert, markAlertAttemptFailed, markAlertSent, postponeAlert, type DueAlert } from "../db/alerts.js";
import { getBuild } from "../db/builds.js";
import { alertContent } from "./alert-content.js";
import type { EmailSender } from "./email-sender.js";
import { renderEmail } from "./render-email.js";
import { findSlackUserForLogin } from "../db/slack-links.js";
import { renderSlack } from "./render-slack.js";
import { createRepeatingWorker, nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { SlackRateLimitedError, type SlackClient } from "./slack-client.js";

export type { RetryPolicy };

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };

/** A Slack reply waits this long at a time for the message it threads under. */
const PARENT_WAIT_MS = 2_000;

export type AlertWorker = RepeatingWorker;

/**
 * Delivers the outbox. Each row is sent inside the transaction that locked it, so a crash
 * before the commit leaves it pending for another try and no two workers hold it at once.
 * A failed attempt is retried with exponential backoff (Slack's Retry-After when it gives
 * one) and ends as `failed`, with its last error, after `maxAttempts`.
 */
export function createAlertWorker(deps: {
  pool: DatabasePool;
  log: Logger;
  email: EmailSender | null;
  slack: SlackClient | null;
  baseUrl: string;
  now: () => Date;
  intervalMs?: number;
  retry?: RetryPolicy;
}): AlertWorker {
  const retry = deps.retry ?? DEFAULT_RETRY;
  const log = deps.log.child({ worker: "alerts" });

  async function send(tx: CommonQueryMethods, alert: DueAlert): Promise<{ ts: string; channelId: string } | null> {
    const build = alert.build_id == null ? null : await getBuild(tx, alert.build_id);
    const content = alertContent(alert.kind, build, alert.details, deps.baseUrl);
    if (alert.channel === "email") {
      if (!deps.email) throw new Error("email not configured (SMTP_URL)");
      await deps.email.send({ ...renderEmail(content), to: alert.target, messageId: `<alert-${alert.id}@runboard>` });
      return null;
    }
    if (!deps.slack) throw new Error("slack not configured (SLACK_BOT_TOKEN)");
    const threaded = alert.parent_status === "sent" && alert.parent_slack_ts && alert.parent_slack_channel_id;
    const posted = await deps.slack.postMessage({
      channel: threaded ? alert.parent_slack_channel_id! : alert.target[0]!,
      ...renderSlack(content, {
        triggeredBySlackUserId: build?.triggered_by ? await findSlackUserForLogin(tx, build.triggered_by) : null,
      }),
      ...(threaded ? { thread_ts: alert.parent_slack_ts!, reply_broadcast: alert.kind === "fixed" } : {}),
    });
    return { ts: posted.ts, channelId: posted.channel };
  }

  /** Handles one due row; false when none is due. */
  async function handleOne(): Promise<boolean> {
    return deps.pool.transaction(async (tx) => {
      const alert = await claimDueAlert(tx, deps.now());
      if (!alert) return false;
      if (alert.parent_status === "pending") {
        await postponeAlert(tx, alert.id, new Date(deps.now().getTime() + PARENT_WAIT_MS));
        return true;
      }
      try {
        await markAlertSent(tx, alert.id, await send(tx, alert));
        log.info({ alertId: alert.id, kind: alert.kind, channel: alert.channel }, "alert sent");
      } catch (error) {
        const attempts = alert.attempts + 1;
        const retryAt =
          error instanceof SlackRateLimitedError
            ? new Date(deps.now().getTime() + error.retryAfterSeconds * 1000)
            : nextAttemptAt(retry, attempts, deps.now());
        const message = error instanceof Error ? error.message : String(error);
        await markAlertAttemptFailed(tx, alert.id, message, retryAt);
        log.warn(
          { alertId: alert.id, channel: alert.channel, attempts, retryAt, err: message },
          retryAt ? "alert not sent; will retry" : "alert not sent; giving up: check the channel's configuration",
        );
      }
      return true;
    });
  }

  return createRepeatingWorker({ log, intervalMs: deps.intervalMs ?? 1_000, maxPerPass: 500, handleOne });
}
