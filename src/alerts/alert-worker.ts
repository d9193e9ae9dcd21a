import type { Logger } from "pino";
import { sql, type DatabasePool, type ValueExpression } from "slonik";
import { ALERTS_OUTBOX, DELIVERY_NOTE, getAlertToSend, type DueAlert } from "../db/alerts.js";
import { getBuild } from "../db/builds.js";
import { countPendingFailureReads, getFailureInsights } from "../db/failure-excerpts.js";
import { createOutbox, type Claim, type SendOutcome } from "../db/outbox.js";
import { findSlackUserForLogin } from "../db/slack-links.js";
import { jsonText } from "../db/values.js";
import { createOutboxWorker } from "../outbox-worker.js";
import { nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { alertContent } from "./alert-content.js";
import { EMAIL_SEND_DEADLINE_MS, type EmailSender } from "./email-sender.js";
import { renderEmail } from "./render-email.js";
import { renderSlack } from "./render-slack.js";
import { isQueueAlert, renderQueueAlert } from "./render-queue-alert.js";
import { FIND_MESSAGE_MAX_PAGES, SLACK_CALL_DEADLINE_MS, SlackRateLimitedError, mayHaveArrived, type SlackClient } from "./slack-client.js";
import { SLACK_ALERT_EVENT_TYPE, createLostPostFinder, slackThreadOf } from "./slack-lost-post.js";

export type { RetryPolicy };

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };

/** A Slack reply waits this long at a time for the message it threads under. */
const PARENT_WAIT_MS = 2_000;

/**
 * An alert about a failure waits for the read of its failed jobs' errors (github/failure-reader.ts)
 * until this long after the run ended, looking again every EXCERPT_POLL_MS; then it goes
 * without them. A run that ended longer ago (a late delivery) does not wait at all.
 */
export const EXCERPT_WAIT_MS = 20_000;
const EXCERPT_POLL_MS = 2_000;

/**
 * How long a claimed alert is this worker's. An email is one send under its deadline (45 s);
 * a Slack alert is at most four calls of 10 s: up to three pages of the channel or thread
 * looking for a post whose answer was lost (the channel's id comes from Postgres, not Slack),
 * then the post. Two minutes covers either with room for a slow database.
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
  const lookForLostPost = createLostPostFinder({ pool: deps.pool, log });
  // Keep the deadlines under the lease, or a slow send could be taken over while it runs.
  if (EMAIL_SEND_DEADLINE_MS >= ALERT_LEASE_MS || (FIND_MESSAGE_MAX_PAGES + 1) * SLACK_CALL_DEADLINE_MS >= ALERT_LEASE_MS) {
    throw new Error("alert lease shorter than its sends' deadlines");
  }

  async function deliver(alert: DueAlert): Promise<{ ts: string; channelId: string } | null> {
    if (isQueueAlert(alert.kind)) return deliverQueueAlert(alert, alert.kind);
    const build = alert.build_id == null ? null : await getBuild(deps.pool, alert.build_id);
    const insights = build && alert.kind !== "fixed" ? await getFailureInsights(deps.pool, build.id) : new Map();
    const content = alertContent(alert.kind, build, alert.details, deps.baseUrl, insights, deps.now());
    if (alert.channel === "email") {
      if (!deps.email) throw new Error("email not configured (SMTP_URL)");
      await deps.email.send({ ...renderEmail(content), to: alert.target, messageId: `<alert-${alert.id}@runboard>` });
      return null;
    }
    if (!deps.slack) throw new Error("slack not configured (SLACK_BOT_TOKEN)");
    const thread = slackThreadOf(alert);
    const posted = await deps.slack.postMessage({
      channel: thread ? thread.channelId : alert.target[0]!,
      ...renderSlack(content, {
        triggeredBySlackUserId: build?.triggered_by ? await findSlackUserForLogin(deps.pool, build.triggered_by) : null,
      }),
      ...(thread ? { thread_ts: thread.ts, reply_broadcast: alert.kind === "fixed" } : {}),
      // Only our own id: the rest of the message comes from GitHub and is no key to trust.
      metadata: { event_type: SLACK_ALERT_EVENT_TYPE, event_payload: { alert_id: alert.id } },
    });
    return { ts: posted.ts, channelId: posted.channel };
  }

  /** A queue-time alert: no build, no thread, no buttons that act. */
  async function deliverQueueAlert(alert: DueAlert, kind: "queue_slow" | "queue_recovered"): Promise<{ ts: string; channelId: string } | null> {
    const message = renderQueueAlert(kind, alert.details, deps.baseUrl);
    if (alert.channel === "email") {
      if (!deps.email) throw new Error("email not configured (SMTP_URL)");
      await deps.email.send({ ...message.email, to: alert.target, messageId: `<alert-${alert.id}@runboard>` });
      return null;
    }
    if (!deps.slack) throw new Error("slack not configured (SLACK_BOT_TOKEN)");
    const posted = await deps.slack.postMessage({
      channel: alert.target[0]!,
      ...message.slack,
      metadata: { event_type: SLACK_ALERT_EVENT_TYPE, event_payload: { alert_id: alert.id } },
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
    const waitUntil = await excerptWaitUntil(alert, now);
    if (waitUntil) return { kind: "retry", at: new Date(Math.min(waitUntil.getTime(), now.getTime() + EXCERPT_POLL_MS)), countAttempt: false };
    // The doubt a claim came with is settled once a look found no earlier post.
    let settled = false;
    try {
      let note: string | null = null;
      if (alert.channel === "slack" && claim.inDoubt && deps.slack) {
        const look = await lookForLostPost(alert, deps.slack);
        if (look.kind === "found") {
          log.info({ alertId: alert.id, ts: look.ts }, "alert found in Slack after its answer was lost; not posted again");
          return { kind: "done", set: sentColumns({ ts: look.ts, channelId: look.channelId }, null) };
        }
        settled = look.kind === "absent";
        note = look.kind === "blind" ? look.note : null;
      }
      const slack = await deliver(alert);
      log.info({ alertId: alert.id, kind: alert.kind, channel: alert.channel }, "alert sent");
      return { kind: "done", set: sentColumns(slack, note) };
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
      // The next try looks before posting again when this one may have posted (no answer came),
      // or when an earlier one may have and this one could not find out.
      const inDoubt = alert.channel === "slack" && (mayHaveArrived(error) || (claim.inDoubt && !settled));
      return { kind: "retry", at: retryAt, error: message, inDoubt };
    }
  }

  /** Until when this alert waits for its failed jobs' errors to be read, or null to send now. */
  async function excerptWaitUntil(alert: DueAlert, now: Date): Promise<Date | null> {
    if (alert.build_id == null || (alert.kind !== "broken" && alert.kind !== "still_failing")) return null;
    const finishedAt = alert.run_finished_at;
    if (!finishedAt || now.getTime() >= finishedAt.getTime() + EXCERPT_WAIT_MS) return null;
    return (await countPendingFailureReads(deps.pool, alert.build_id)) > 0 ? new Date(finishedAt.getTime() + EXCERPT_WAIT_MS) : null;
  }

  function sentColumns(slack: { ts: string; channelId: string } | null, note: string | null): Record<string, ValueExpression> {
    return {
      slack_ts: slack?.ts ?? null,
      slack_channel_id: slack?.channelId ?? null,
      sent_at: sql.timestamp(deps.now()),
      // Recording a send clears last_error, so a note on how it went is kept with the details.
      ...(note ? { details: sql.fragment`details || ${jsonText({ [DELIVERY_NOTE]: note })}::jsonb` } : {}),
    };
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
