import type { Hono } from "hono";
import pino from "pino";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ALERT_LEASE_MS, createAlertWorker, type AlertWorker } from "../../src/alerts/alert-worker.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { ALERTS_OUTBOX } from "../../src/db/alerts.js";
import { createOutbox } from "../../src/db/outbox.js";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { runPayload } from "../helpers/seed-builds.js";
import { loseAnswer, rateLimited, startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

/** The client's deadline here: an answer held back longer than this is lost. */
const DEADLINE_MS = 300;
const RETRY = { baseDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 5 };

const alertRow = z.object({
  id: z.number(),
  kind: z.string(),
  status: z.string(),
  attempts: z.number(),
  in_doubt: z.boolean(),
  last_error: z.string().nullable(),
  slack_ts: z.string().nullable(),
  slack_channel_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

describe("a Slack alert is posted once, even when Slack's answer is lost", () => {
  let db: TestDatabase;
  let slack: SlackStandIn;
  let app: Hono;
  let worker: AlertWorker;
  let clock: Date;
  let warnings: { msg: string; reason?: string }[];

  beforeEach(async () => {
    clock = new Date("2026-05-04T12:00:00Z");
    db = await createTestDatabase();
    slack = await startSlackStandIn();
    const now = () => clock;
    app = await createTestServer(db.pool, { now, alerting: { email: null, slack: { channel: "#ci" }, now, sendDelayMs: 0 } });
    warnings = [];
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    worker = createAlertWorker({
      pool: db.pool,
      log,
      email: null,
      slack: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl, timeoutMs: DEADLINE_MS }),
      baseUrl: "http://runboard.test",
      now,
      retry: RETRY,
    });
  });
  afterEach(async () => {
    await slack.stop();
    await db.drop();
  });

  let runId = 0;
  /** A run of `repository`'s CI on main, finished a minute after the previous one. */
  const finish = async (repository: string, conclusion: "success" | "failure") => {
    runId += 1;
    const payload = runPayload({
      id: runId,
      repository,
      workflow: "CI",
      branch: "main",
      conclusion,
      createdAt: new Date(Date.UTC(2026, 4, 4, 10, runId)),
      seconds: 30,
      actor: "mona",
      message: `Change ${runId}`,
    });
    expect((await deliver(app, { event: "workflow_run", payload })).status).toBe(200);
  };
  const rows = () => db.pool.any(sql.type(alertRow)`
    SELECT a.id, a.kind, a.status, a.attempts, a.in_doubt, a.last_error, a.slack_ts, a.slack_channel_id, a.details
    FROM alerts a WHERE a.channel = 'slack' ORDER BY a.id`);
  const rowOf = async (id: number) => (await rows()).find((r) => r.id === id)!;
  const lastRow = async () => (await rows()).at(-1)!;
  const posts = () => slack.calls.filter((c) => c.method === "chat.postMessage");
  const later = (ms: number) => {
    clock = new Date(clock.getTime() + ms);
  };
  /** Sends a first alert to #ci normally, as any running install has: Slack's answer names the channel's id. */
  const earlierAlertToCi = async () => {
    await finish("acme/web", "failure");
    expect(await worker.runOnce()).toBe(1);
    expect(await lastRow()).toMatchObject({ status: "sent", slack_channel_id: "C0ALERTS" });
  };

  it("does not post a top-level alert again when the post arrived but its answer never came", async () => {
    await earlierAlertToCi();
    await finish("acme/api", "failure");
    slack.queue(loseAnswer("hang"));
    expect(await worker.runOnce()).toBe(1);
    const lost = await lastRow();
    expect(lost).toMatchObject({ kind: "broken", status: "pending", in_doubt: true, slack_ts: null });
    expect(lost.last_error).toMatch(/timeout|abort/i);
    // The post did arrive, with the alert's id (and nothing else) as metadata.
    expect(slack.messages("#ci")).toHaveLength(2);
    const stored = slack.messages("#ci")[1]!;
    expect(stored.metadata).toEqual({ event_type: "runboard_alert", event_payload: { alert_id: lost.id } });
    // A busy channel meanwhile: the post is no longer on the first page of history.
    for (let i = 0; i < 250; i++) slack.post("#ci", { text: `chatter ${i}` });

    later(RETRY.baseDelayMs + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(slack.messages("#ci").filter((m) => m.metadata)).toHaveLength(2);
    expect(posts()).toHaveLength(2);
    expect(await rowOf(lost.id)).toMatchObject({ status: "sent", in_doubt: false, slack_ts: stored.ts, slack_channel_id: "C0ALERTS", last_error: null });
    const looks = slack.calls.filter((c) => c.method === "conversations.history");
    expect(looks.map((c) => c.body.channel)).toEqual(["C0ALERTS", "C0ALERTS"]);
    expect(looks[0]!.body).toMatchObject({ include_all_metadata: true, oldest: expect.any(String) });
    expect(looks[1]!.body.cursor).toEqual(expect.any(String));

    // Replies thread under the message found.
    await finish("acme/api", "failure");
    expect(await worker.runOnce()).toBe(1);
    expect(posts().at(-1)!.body).toMatchObject({ channel: "C0ALERTS", thread_ts: stored.ts });
  });

  it.each(["hang", "destroy"] as const)("does not post a thread reply again when its answer is lost (%s)", async (mode) => {
    await finish("acme/api", "failure");
    expect(await worker.runOnce()).toBe(1);
    const parent = slack.messages("#ci")[0]!;
    await finish("acme/api", "failure");
    slack.queue(loseAnswer(mode));
    expect(await worker.runOnce()).toBe(1);
    const reply = await lastRow();
    expect(reply).toMatchObject({ kind: "still_failing", status: "pending", in_doubt: true });
    const thread = () => slack.messages("#ci").filter((m) => m.thread_ts === parent.ts);
    expect(thread()).toHaveLength(1);

    later(RETRY.baseDelayMs + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(thread()).toHaveLength(1);
    expect(posts()).toHaveLength(2);
    expect(await rowOf(reply.id)).toMatchObject({ status: "sent", in_doubt: false, slack_ts: thread()[0]!.ts, slack_channel_id: "C0ALERTS" });
    const look = slack.calls.find((c) => c.method === "conversations.replies")!;
    expect(look.body).toMatchObject({ channel: "C0ALERTS", ts: parent.ts, include_all_metadata: true });
    expect(slack.calls.some((c) => c.method === "conversations.history")).toBe(false);
  });

  it("posts again without the history scopes, says why in the history, and tells the operator once", async () => {
    await earlierAlertToCi();
    await finish("acme/api", "failure");
    await finish("acme/cli", "failure");
    slack.queue(loseAnswer("hang"), loseAnswer("hang"));
    expect(await worker.runOnce()).toBe(2);
    expect(slack.messages("#ci")).toHaveLength(3);
    slack.scopes.delete("channels:history");
    slack.scopes.delete("groups:history");

    later(RETRY.baseDelayMs + 1_000);
    expect(await worker.runOnce()).toBe(2);
    // Both posted twice: Slack could not be asked whether the first posts arrived.
    expect(slack.messages("#ci")).toHaveLength(5);
    const [, api, cli] = await rows();
    for (const row of [api!, cli!]) {
      expect(row).toMatchObject({ status: "sent", in_doubt: false });
      expect(row.slack_ts).toBe(slack.messages("#ci").filter((m) => m.metadata?.event_payload.alert_id === row.id).at(-1)!.ts);
      expect(row.details.delivery_note).toMatch(/posted again .*missing_scope/);
    }
    const history = (await (await app.request("/api/alerts")).json()) as { alerts: { id: number; status: string; last_error: string | null }[] };
    expect(history.alerts.find((a) => a.id === api!.id)).toMatchObject({ status: "sent", last_error: expect.stringMatching(/missing_scope/) });
    const told = warnings.filter((w) => w.reason?.includes("missing_scope"));
    expect(told).toHaveLength(1);
    expect(told[0]!.msg).toMatch(/channels:history and groups:history/);
  });

  it("posts again when no id is known yet for the channel's name, and says so", async () => {
    await finish("acme/api", "failure");
    slack.queue(loseAnswer("hang"));
    expect(await worker.runOnce()).toBe(1);

    later(RETRY.baseDelayMs + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(slack.messages("#ci")).toHaveLength(2);
    expect(slack.calls.some((c) => c.method.startsWith("conversations."))).toBe(false);
    const row = await lastRow();
    expect(row).toMatchObject({ status: "sent", slack_channel_id: "C0ALERTS" });
    expect(row.details.delivery_note).toMatch(/no channel id known for #ci/);
    expect(warnings.filter((w) => w.reason).map((w) => w.msg)).toEqual([expect.stringMatching(/name the channel by its id/)]);
  });

  it("keeps looking, and does not post, while the look itself fails", async () => {
    await earlierAlertToCi();
    await finish("acme/api", "failure");
    slack.queue(loseAnswer("hang"), rateLimited(30), loseAnswer("hang"));
    expect(await worker.runOnce()).toBe(1);
    // The look is rate limited: Slack answered, but the doubt about the post is still open.
    later(RETRY.baseDelayMs + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(await lastRow()).toMatchObject({ status: "pending", in_doubt: true });
    // Then the look's own answer is lost.
    later(31_000);
    expect(await worker.runOnce()).toBe(1);
    expect(await lastRow()).toMatchObject({ status: "pending", in_doubt: true });
    expect(posts()).toHaveLength(2);
    later(RETRY.maxDelayMs);
    expect(await worker.runOnce()).toBe(1);
    expect(posts()).toHaveLength(2);
    expect(slack.messages("#ci")).toHaveLength(2);
    expect(await lastRow()).toMatchObject({ status: "sent", slack_ts: slack.messages("#ci")[1]!.ts });
    expect(slack.calls.filter((c) => c.method === "conversations.history")).toHaveLength(3);
  });

  it("does not post twice when a worker died holding the lease after its post arrived", async () => {
    await earlierAlertToCi();
    await finish("acme/api", "failure");
    const alert = await lastRow();
    // The worker that died: it claimed the row, and its post reached Slack.
    const claim = await createOutbox(db.pool, { ...ALERTS_OUTBOX, leaseMs: ALERT_LEASE_MS }).claim(clock);
    expect(claim?.key).toEqual({ id: alert.id });
    const arrived = slack.post("#ci", { text: "CI broken: acme/api", metadata: { event_type: "runboard_alert", event_payload: { alert_id: alert.id } } });
    const postsBefore = posts().length;

    expect(await worker.runOnce()).toBe(0);
    later(ALERT_LEASE_MS + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(posts()).toHaveLength(postsBefore);
    expect(slack.messages("#ci").filter((m) => m.metadata?.event_payload.alert_id === alert.id)).toHaveLength(1);
    expect(await rowOf(alert.id)).toMatchObject({ status: "sent", slack_ts: arrived.ts, slack_channel_id: "C0ALERTS", in_doubt: false });

    // A worker that died before its post left: the look finds nothing, and the alert is posted once.
    await finish("acme/cli", "failure");
    const second = await lastRow();
    expect(await createOutbox(db.pool, { ...ALERTS_OUTBOX, leaseMs: ALERT_LEASE_MS }).claim(clock)).not.toBeNull();
    later(ALERT_LEASE_MS + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(posts()).toHaveLength(postsBefore + 1);
    expect(slack.messages("#ci").filter((m) => m.metadata?.event_payload.alert_id === second.id)).toHaveLength(1);
    expect(await rowOf(second.id)).toMatchObject({ status: "sent", last_error: null });
    expect((await rowOf(second.id)).details.delivery_note).toBeUndefined();
  });
});
