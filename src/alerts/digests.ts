import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import { sql, type DatabasePool } from "slonik";
import { getAlertRules } from "../db/alert-settings.js";
import { listActiveRepositories } from "../db/digest-figures.js";
import { DIGESTS_OUTBOX, getDigestToSend, insertDigest, type NewDigest } from "../db/digests.js";
import { createOutbox, type Claim, type SendOutcome } from "../db/outbox.js";
import { routeOf, type AlertRules } from "../domain/alert-rules.js";
import { digestPeriod, floorToMinute } from "../domain/digest-period.js";
import type { RunnerMultiplier } from "../domain/runner-minutes.js";
import { createOutboxWorker } from "../outbox-worker.js";
import type { RetryPolicy } from "../repeating-worker.js";
import { ALERT_LEASE_MS, DEFAULT_RETRY } from "./alert-worker.js";
import { loadDigestContent } from "./digest-content.js";
import type { EmailSender } from "./email-sender.js";
import { renderDigestEmail, renderDigestSlack } from "./render-digest.js";
import type { SlackClient } from "./slack-client.js";

/**
 * A fire that comes later than this (a blocked event loop) is skipped, as one missed while
 * every replica was down is: a digest is not sent late.
 */
const MISSED_FIRE_TOLERANCE_MS = 60_000;

export interface Digests {
  start(): void;
  stop(): Promise<void>;
  /**
   * What the schedule does at each fire time `at` (the cron expression must match its minute):
   * one outbox row per target whose repositories had runs in the period. Returns the rows this
   * call wrote (another replica may have written the rest).
   */
  fire(at: Date): Promise<number>;
  /** Sends every digest due now; resolves with how many it handled. */
  runOnce(): Promise<number>;
}

/**
 * Scheduled digests: node-cron fires DIGEST_SCHEDULE in DIGEST_TIMEZONE on every replica; each
 * fire writes rows keyed by fire time and target (a unique key, so any number of replicas
 * write each once), and an outbox worker sends them by email and Slack with no transaction open.
 */
export function createDigests(deps: {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  schedule: { schedule: string; timezone: string };
  baseUrl: string;
  multipliers: readonly RunnerMultiplier[];
  email: { sender: EmailSender; to: string[] } | null;
  slack: { client: SlackClient; channel: string | null } | null;
  intervalMs?: number;
  retry?: RetryPolicy;
}): Digests {
  const log = deps.log.child({ worker: "digests" });
  const task: ScheduledTask = cron.createTask(
    deps.schedule.schedule,
    async (context) => {
      try {
        await fire(context.date);
      } catch (error) {
        log.error({ err: error }, "digest fire failed; this period's digest is not sent");
      }
    },
    { timezone: deps.schedule.timezone, noOverlap: true, missedExecutionTolerance: MISSED_FIRE_TOLERANCE_MS, name: "runboard-digest", suppressMissedWarning: true },
  );

  async function fire(at: Date): Promise<number> {
    const fireAt = floorToMinute(at);
    if (!task.match(fireAt)) throw new Error(`${fireAt.toISOString()} is not a fire time of DIGEST_SCHEDULE ${deps.schedule.schedule}`);
    const period = digestPeriod(fireAt, (date) => task.match(date));
    const repositories = await listActiveRepositories(deps.pool, { ...period, now: deps.now() });
    if (repositories.length === 0) return 0;
    const rules = await getAlertRules(deps.pool);
    let written = 0;
    for (const digest of digestTargets(rules, repositories, { email: deps.email?.to ?? null, slack: deps.slack ? { channel: deps.slack.channel } : null })) {
      if (await insertDigest(deps.pool, { ...digest, fireAt, periodStart: period.start })) written += 1;
    }
    log.info({ fireAt, periodStart: period.start, written }, "digests due");
    return written;
  }

  async function send(claim: Claim<{ id: number }>): Promise<SendOutcome> {
    const digest = await getDigestToSend(deps.pool, claim.key.id);
    if (!digest) return { kind: "failed", error: "digest row not found" };
    const content = await loadDigestContent(deps.pool, {
      repositories: digest.repositories ?? [],
      start: digest.period_start,
      end: digest.fire_at,
      now: deps.now(),
      baseUrl: deps.baseUrl,
      multipliers: deps.multipliers,
    });
    if (digest.channel === "email") {
      if (!deps.email) return { kind: "failed", error: "email not configured (SMTP_URL)" };
      await deps.email.sender.send({ ...renderDigestEmail(content), to: digest.target.split(","), messageId: `<digest-${digest.id}@runboard>` });
      return { kind: "done", set: { sent_at: sql.timestamp(deps.now()) } };
    }
    if (!deps.slack) return { kind: "failed", error: "slack not configured (SLACK_BOT_TOKEN)" };
    const posted = await deps.slack.client.postMessage({
      channel: digest.target,
      ...renderDigestSlack(content),
      metadata: { event_type: "runboard_digest", event_payload: { digest_id: digest.id } },
    });
    return { kind: "done", set: { slack_ts: posted.ts, sent_at: sql.timestamp(deps.now()) } };
  }

  const worker = createOutboxWorker({
    outbox: createOutbox(deps.pool, { ...DIGESTS_OUTBOX, leaseMs: ALERT_LEASE_MS }),
    log,
    now: deps.now,
    intervalMs: deps.intervalMs ?? 5_000,
    maxPerPass: 200,
    retry: deps.retry ?? DEFAULT_RETRY,
    send: (claim) => send(claim),
  });

  return {
    fire,
    runOnce: () => worker.runOnce(),
    start() {
      void task.start();
      worker.start();
    },
    async stop() {
      await task.destroy();
      await worker.stop();
    },
  };
}

/**
 * Who hears about which repositories, as alerts are routed: each repository's first matching
 * route's email recipients and Slack channel, else the environment's. Repositories that share a
 * target share one digest.
 */
export function digestTargets(
  rules: AlertRules,
  repositories: readonly string[],
  /** null: the channel is off (not configured). */
  defaults: { email: string[] | null; slack: { channel: string | null } | null },
): Array<Omit<NewDigest, "fireAt" | "periodStart">> {
  const targets = new Map<string, Omit<NewDigest, "fireAt" | "periodStart"> & { repositories: string[] }>();
  const add = (channel: "email" | "slack", target: string, repository: string) => {
    const key = `${channel}\u0001${target}`;
    const entry = targets.get(key) ?? { channel, target, repositories: [] };
    entry.repositories.push(repository);
    targets.set(key, entry);
  };
  for (const repository of repositories) {
    const route = routeOf(rules, repository);
    if (defaults.email !== null) {
      const to = route?.email ?? defaults.email;
      if (to.length > 0) add("email", [...new Set(to.map((a) => a.toLowerCase()))].sort().join(","), repository);
    }
    const channel = defaults.slack ? (route?.slack_channel ?? defaults.slack.channel) : null;
    if (channel) add("slack", channel, repository);
  }
  return [...targets.values()];
}
