import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { ALERTS_OUTBOX, getAlertToSend, type DueAlert } from "../db/alerts.js";
import { getBuild } from "../db/builds.js";
import { createOutbox, type Claim, type SendOutcome } from "../db/outbox.js";
import { findSlackUserForLogin } from "../db/slack-links.js";
import { createOutboxWorker } from "../outbox-worker.js";
import { nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { alertContent } from "./alert-content.js";
import { EMAIL_SEND_DEADLINE_MS, type EmailSender } from "./email-sender.js";
import { renderEmail } from "./render-email.js";
import { renderSlack } from "./render-slack.js";
import { SLACK_CALL_DEADLINE_MS, SlackRateLimitedError, isSlackTimeout, type SlackClient } from "./slack-client.js";

export type { RetryPolicy };

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };

/** A Slack reply waits this long at a time for the message it threads under. */
const PARENT_WAIT_MS = 2_000;

/**
 * How long a claimed alert is this worker's. An email is one send under its deadline (45 s);
 * a Slack alert is at most three calls of 10 s (the channel's id, the look for a post whose
 * answer was lost, the post). Two minutes covers either with room for a slow database.
 */
export const ALERT_LEASE_MS = 2 * 60_000;

export type AlertWorker = RepeatingWorker;

/**
 * Delivers the alerts outbox (db/outbox.ts): each due row is claimed with a lease, sent with no
 * transaction open, and its outcome recorded after. A failed attempt is retried with
 * exponential backoff (Slack's Retry-After when it gives one) and ends as `failed`, with its
 * last error, after `maxAttempts`.
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
  leaseMs?: number;
}): AlertWorker {
  const retry = deps.retry ?? DEFAULT_RETRY;
  const log = deps.log.child({ worker: "alerts" });
  const outbox = createOutbox(deps.pool, { ...ALERTS_OUTBOX, leaseMs: deps.leaseMs ?? ALERT_LEASE_MS });
  // Keep the deadlines under the lease, or a slow send could be taken over while it runs.
  if (EMAIL_SEND_DEADLINE_MS >= ALERT_LEASE_MS || 3 * SLACK_CALL_DEADLINE_MS >= ALERT_LEASE_MS) {
    throw new Error("alert lease shorter than its sends' deadlines");
  }

  async function deliver(alert: DueAlert): Promise<{ ts: string; channelId: string } | null> {
    const build = alert.build_id == null ? null : await getBuild(deps.pool, alert.build_id);
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
        triggeredBySlackUserId: build?.triggered_by ? await findSlackUserForLogin(deps.pool, build.triggered_by) : null,
      }),
      ...(threaded ? { thread_ts: alert.parent_slack_ts!, reply_broadcast: alert.kind === "fixed" } : {}),
    });
    return { ts: posted.ts, channelId: posted.channel };
  }

  async function send(claim: Claim<{ id: number }>): Promise<SendOutcome> {
    const now = deps.now();
    const alert = await getAlertToSend(deps.pool, claim.key.id);
    if (!alert) return { kind: "failed", error: "alert row not found" };
    if (alert.parent_status === "pending") {
      return { kind: "retry", at: new Date(now.getTime() + PARENT_WAIT_MS), countAttempt: false };
    }
    try {
      const slack = await deliver(alert);
      log.info({ alertId: alert.id, kind: alert.kind, channel: alert.channel }, "alert sent");
      return { kind: "done", set: { slack_ts: slack?.ts ?? null, slack_channel_id: slack?.channelId ?? null } };
    } catch (error) {
      const attempts = claim.attempts + 1;
      const retryAt =
        error instanceof SlackRateLimitedError
          ? new Date(deps.now().getTime() + error.retryAfterSeconds * 1000)
          : nextAttemptAt(retry, attempts, deps.now());
      const message = error instanceof Error ? error.message : String(error);
      log.warn(
        { alertId: alert.id, channel: alert.channel, attempts, retryAt, err: message },
        retryAt ? "alert not sent; will retry" : "alert not sent; giving up: check the channel's configuration",
      );
      if (!retryAt) return { kind: "failed", error: message };
      // A time-out may come after the message left: the next try looks before posting again.
      return { kind: "retry", at: retryAt, error: message, inDoubt: isSlackTimeout(error) };
    }
  }

  return createOutboxWorker({
    outbox,
    log,
    now: deps.now,
    intervalMs: deps.intervalMs ?? 1_000,
    maxPerPass: 500,
    retry,
    send,
  });
}
