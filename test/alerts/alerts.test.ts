import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAlertWorker, type AlertWorker } from "../../src/alerts/alert-worker.js";
import { createEmailSender, type EmailSender } from "../../src/alerts/email-sender.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { createTestServer, deliver, silentLog } from "../helpers/github-app.js";
import { rateLimited, startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { clone, workflowExamples } from "../helpers/webhook-examples.js";

const runTemplate = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.conclusion === "success")!;
const jobTemplate = workflowExamples().find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!;
const BASE_URL = "http://runboard.test";
const RECIPIENTS = ["team@example.com"];

const repository = { ...runTemplate.payload.repository, id: 4242, full_name: "acme/api", default_branch: "main" };

/** A completed run of workflow 77 on `branch`, number `n`, finishing `minute` minutes past 10:00. */
function run(n: number, conclusion: "success" | "failure", options: { branch?: string; minute?: number; attempt?: number } = {}) {
  const payload = clone(runTemplate.payload);
  const start = new Date(Date.UTC(2026, 4, 4, 10, options.minute ?? n * 10));
  payload.repository = repository;
  payload.workflow_run = {
    ...payload.workflow_run,
    id: 9000 + n,
    run_number: n,
    run_attempt: options.attempt ?? 1,
    name: "CI",
    workflow_id: 77,
    head_branch: options.branch ?? "main",
    head_sha: `${n}`.padStart(40, "a"),
    head_commit: { ...payload.workflow_run.head_commit, message: `Change number ${n}\n\nDetails` },
    status: "completed",
    conclusion,
    created_at: start.toISOString(),
    run_started_at: start.toISOString(),
    updated_at: new Date(start.getTime() + 5 * 60_000).toISOString(),
    triggering_actor: { login: "octocat" },
    repository,
  };
  return payload;
}

function failedJob(n: number) {
  const payload = clone(jobTemplate.payload);
  payload.repository = repository;
  payload.workflow_job = { ...payload.workflow_job, id: 70_000 + n, run_id: 9000 + n, name: "lint <fast>" };
  return payload;
}

const alertRows = z.object({ kind: z.string(), channel: z.string(), status: z.string(), last_error: z.string().nullable() });

describe("alerts", () => {
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let email: EmailSender;
  let app: Hono;
  let worker: AlertWorker;
  let clock: Date;

  async function setUp(smtpServer: TestSmtpServer | { url: string; port: number }) {
    email = createEmailSender({ smtpUrl: smtpServer.url, from: "runboard@example.com" });
    const slackClient = createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl });
    const now = () => clock;
    app = await createTestServer(db.pool, {
      now,
      alerting: { email: { to: RECIPIENTS }, slack: { channel: "#ci" }, now, sendDelayMs: 0 },
      alerts: { baseUrl: BASE_URL, email: { sender: email, to: RECIPIENTS }, slack: { client: slackClient, channel: "#ci" } },
    });
    worker = createAlertWorker({
      pool: db.pool,
      log: silentLog,
      email,
      slack: slackClient,
      baseUrl: BASE_URL,
      now,
      retry: { baseDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 3 },
    });
  }

  beforeEach(async () => {
    clock = new Date("2026-05-04T12:00:00Z");
    db = await createTestDatabase();
    slack = await startSlackStandIn();
  });
  afterEach(async () => {
    email?.close();
    await smtp?.stop().catch(() => undefined);
    await slack.stop();
    await db.drop();
  });

  const send = async (event: "workflow_run" | "workflow_job", payload: unknown, id = randomUUID()) => {
    const response = await deliver(app, { event, payload, id });
    expect(response.status).toBe(200);
  };
  const rows = () =>
    db.pool.any(sql.type(alertRows)`SELECT kind, channel, status, last_error FROM alerts ORDER BY id`);

  it("tells once when main breaks, threads later failures in Slack, and tells once when it is fixed", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);

    // 1. A success first: nothing to say.
    await send("workflow_run", run(1, "success"));
    expect(await worker.runOnce()).toBe(0);

    // 2. Main breaks: one email and one Slack message, with the failed job and step.
    await send("workflow_job", failedJob(2));
    const brokenId = randomUUID();
    await send("workflow_run", run(2, "failure"), brokenId);
    expect(await worker.runOnce()).toBe(2);
    expect(smtp.messages).toHaveLength(1);
    const mail = smtp.messages[0]!;
    expect(mail.subject).toBe("[Runboard] CI broken: acme/api · CI on main");
    expect(mail.to && !Array.isArray(mail.to) && mail.to.text).toBe("team@example.com");
    expect(mail.text).toContain("Commit:       aaaaaaa Change number 2");
    expect(mail.text).toContain('- lint <fast> (failed at step "Run yarn run format-check")');
    expect(mail.text).toContain(`Runboard: ${BASE_URL}/builds/`);
    expect(mail.html).toContain("lint &lt;fast&gt;");
    expect(slack.calls).toHaveLength(1);
    const broken = slack.calls[0]!;
    expect(broken.method).toBe("chat.postMessage");
    expect(broken.authorization).toBe("Bearer xoxb-test");
    expect(broken.body).toMatchObject({ channel: "#ci", text: "CI broken: acme/api · CI on main" });
    expect(JSON.stringify(broken.body.blocks)).toContain("lint &lt;fast&gt;");
    expect(broken.body.thread_ts).toBeUndefined();

    // 3. The same delivery again: nothing more.
    await send("workflow_run", run(2, "failure"), brokenId);
    // ...nor the same run under a new delivery id (a redelivery from GitHub's settings).
    await send("workflow_run", run(2, "failure"));
    expect(await worker.runOnce()).toBe(0);
    expect(smtp.messages).toHaveLength(1);
    expect(slack.calls).toHaveLength(1);

    // 4. A second failure: a reply in the Slack thread, no email.
    await send("workflow_run", run(3, "failure"));
    expect(await worker.runOnce()).toBe(1);
    expect(smtp.messages).toHaveLength(1);
    expect(slack.calls).toHaveLength(2);
    expect(slack.calls[1]!.body).toMatchObject({ channel: "C0ALERTS", thread_ts: expect.any(String) });
    expect(slack.calls[1]!.body.text).toBe("Still failing: acme/api · CI on main (2 failed runs)");

    // 5. Fixed: one message each, with time to green (10:25 first failure -> 10:45 green).
    await send("workflow_run", run(4, "success"));
    expect(await worker.runOnce()).toBe(2);
    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages[1]!.subject).toBe("[Runboard] CI fixed: acme/api · CI on main, green after 20m 00s");
    expect(smtp.messages[1]!.text).toContain("Time to green: 20m 00s (2 failed runs)");
    expect(slack.calls).toHaveLength(3);
    expect(slack.calls[2]!.body).toMatchObject({ thread_ts: slack.calls[1]!.body.thread_ts, reply_broadcast: true });

    // 6. Still green: nothing.
    await send("workflow_run", run(5, "success"));
    expect(await worker.runOnce()).toBe(0);
    expect((await rows()).map((r) => `${r.kind}/${r.channel}/${r.status}`)).toEqual([
      "broken/email/sent",
      "broken/slack/sent",
      "still_failing/slack/sent",
      "fixed/email/sent",
      "fixed/slack/sent",
    ]);
  });

  it("decides each attempt of a run once: a later copy of a finished attempt says nothing and counts no failure", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    await send("workflow_run", run(1, "success"));
    await send("workflow_run", run(2, "failure"));
    // A later copy of the same finished attempt (its updated_at moved on, as the poller may read it).
    const later = run(2, "failure");
    later.workflow_run.updated_at = new Date(Date.UTC(2026, 4, 4, 10, 40)).toISOString();
    await send("workflow_run", later);
    // A re-run of it that fails again is news: the streak's second failed run.
    await send("workflow_run", run(2, "failure", { attempt: 2, minute: 50 }));
    expect(await worker.runOnce()).toBe(3);
    expect((await rows()).map((r) => `${r.kind}/${r.channel}/${r.status}`)).toEqual([
      "broken/email/sent",
      "broken/slack/sent",
      "still_failing/slack/sent",
    ]);
    expect(slack.calls[1]!.body.text).toBe("Still failing: acme/api · CI on main (2 failed runs)");
  });

  it("delivers exactly once when SMTP is down as the failure arrives and comes back later", async () => {
    // Take a free port, and keep the server off it for now.
    const probe = await startSmtpServer();
    const port = probe.port;
    await probe.stop();
    await setUp({ url: `smtp://127.0.0.1:${port}`, port });

    await send("workflow_run", run(1, "failure"));
    expect(await worker.runOnce()).toBe(2);
    let history = await rows();
    expect(history.find((r) => r.channel === "email")).toMatchObject({ status: "pending", last_error: expect.stringMatching(/ECONNREFUSED|connect/i) });
    expect(history.find((r) => r.channel === "slack")).toMatchObject({ status: "sent" });

    // Nothing is due before the backoff ends.
    expect(await worker.runOnce()).toBe(0);

    smtp = await startSmtpServer(port);
    clock = new Date(clock.getTime() + 61_000);
    expect(await worker.runOnce()).toBe(1);
    clock = new Date(clock.getTime() + 3_600_000);
    expect(await worker.runOnce()).toBe(0);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.subject).toBe("[Runboard] CI broken: acme/api · CI on main");
    history = await rows();
    expect(history.find((r) => r.channel === "email")).toMatchObject({ status: "sent", last_error: null });
  });

  it("sends each row once when two workers (replicas) run at the same time", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    const second = createAlertWorker({
      pool: db.pool,
      log: silentLog,
      email,
      slack: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl }),
      baseUrl: BASE_URL,
      now: () => clock,
    });
    for (const n of [1, 2, 3]) {
      await send("workflow_run", run(n, "failure", { branch: `release-${n}` }));
    }
    await db.pool.query(sql.unsafe`INSERT INTO alert_settings (rules) VALUES ('{"branches": ["release-*"]}')`);
    for (const n of [4, 5, 6]) {
      await send("workflow_run", run(n, "failure", { branch: `release-${n}` }));
    }
    const handled = await Promise.all([worker.runOnce(), second.runOnce(), worker.runOnce(), second.runOnce()]);
    expect(handled.reduce((a, b) => a + b, 0)).toBe(6);
    expect(smtp.messages).toHaveLength(3);
    expect(slack.calls).toHaveLength(3);
    expect(new Set(smtp.messages.map((m) => m.subject)).size).toBe(3);
  });

  it("gives up after the last attempt and keeps the error in the history", async () => {
    const probe = await startSmtpServer();
    await probe.stop();
    await setUp({ url: `smtp://127.0.0.1:${probe.port}`, port: probe.port });
    await send("workflow_run", run(1, "failure"));
    for (let i = 0; i < 3; i++) {
      await worker.runOnce();
      clock = new Date(clock.getTime() + 3_600_000);
    }
    const response = await app.request("/api/alerts");
    const body = (await response.json()) as any;
    const emailAlert = body.alerts.find((a: { channel: string }) => a.channel === "email");
    expect(emailAlert).toMatchObject({ kind: "broken", status: "failed", attempts: 3, repository: "acme/api", branch: "main" });
    expect(emailAlert.last_error).toMatch(/ECONNREFUSED|connect/i);
  });

  it("waits for Slack's Retry-After on 429, then sends", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    slack.queue(rateLimited(7));
    await send("workflow_run", run(1, "failure"));
    await worker.runOnce();
    expect(slack.calls).toHaveLength(1);
    const pending = await db.pool.one(sql.type(z.object({ status: z.string(), next_attempt_at: z.date(), last_error: z.string() }))`
      SELECT status, next_attempt_at, last_error FROM alerts WHERE channel = 'slack'`);
    expect(pending.status).toBe("pending");
    expect(pending.next_attempt_at.getTime() - clock.getTime()).toBe(7_000);
    expect(pending.last_error).toContain("retry after 7 s");

    clock = new Date(clock.getTime() + 6_000);
    expect(await worker.runOnce()).toBe(0);
    expect(slack.calls).toHaveLength(1);
    clock = new Date(clock.getTime() + 1_000);
    expect(await worker.runOnce()).toBe(1);
    expect(slack.calls).toHaveLength(2);
    expect(slack.calls[1]!.body.text).toBe("CI broken: acme/api · CI on main");
  });

  it("escapes a branch named like markup in email and Slack", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    const branch = "<script>alert(1)</script>&<!channel>";
    await db.pool.query(sql.unsafe`INSERT INTO alert_settings (rules) VALUES ('{"branches": ["*"]}')`);
    await send("workflow_run", run(1, "failure", { branch }));
    expect(await worker.runOnce()).toBe(2);
    const mail = smtp.messages[0]!;
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;!channel&gt;");
    expect(mail.subject).toContain(branch); // plain text: shown as typed, no markup to escape
    const message = slack.calls[0]!.body;
    const everything = JSON.stringify(message);
    expect(everything).not.toContain("<script>");
    expect(everything).not.toContain("<!channel>");
    expect(message.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;!channel&gt;");
  });

  it("alerts only for the default branch unless configured, and says in the history which channel is off", async () => {
    await setUp({ url: "smtp://127.0.0.1:9", port: 9 });
    app = await createTestServer(db.pool, { now: () => clock, alerting: { email: null, slack: { channel: null } } });
    await send("workflow_run", run(1, "failure", { branch: "feature/x" }));
    expect(await rows()).toEqual([]);
    await send("workflow_run", run(2, "failure"));
    expect(await rows()).toEqual([
      { kind: "broken", channel: "email", status: "skipped", last_error: "email not configured (SMTP_URL)" },
      { kind: "broken", channel: "slack", status: "skipped", last_error: "no slack channel (SLACK_ALERT_CHANNEL or a route)" },
    ]);
    expect(await worker.runOnce()).toBe(0);
  });

  it("routes per repository, honours mutes, and ignores a late result of an older run", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    const configure = (rules: unknown) =>
      app.request("/api/alerts/configure", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(rules),
      });
    expect(
      (await configure({ routes: [{ repository: "acme/*", email: ["api-team@example.com"], slack_channel: "#api" }] })).status,
    ).toBe(200);
    await send("workflow_run", run(3, "failure"));
    await worker.runOnce();
    expect(smtp.messages[0]!.to && !Array.isArray(smtp.messages[0]!.to) && smtp.messages[0]!.to.text).toBe("api-team@example.com");
    expect(slack.calls[0]!.body.channel).toBe("#api");

    // Run 2 started before run 3 and finished after it: its result is not news.
    await send("workflow_run", run(2, "success", { minute: 50 }));
    expect(await rows()).toHaveLength(2);

    // Muted: the state still changes, the alert is kept in the history as muted.
    await configure({ mutes: [{ repository: "acme/api", workflow: "CI", until: "2026-05-05T00:00:00Z" }] });
    await send("workflow_run", run(4, "success"));
    const fixed = (await rows()).filter((r) => r.kind === "fixed");
    expect(fixed.map((r) => r.status)).toEqual(["skipped", "skipped"]);
    expect(fixed[0]!.last_error).toBe("muted until 2026-05-05T00:00:00.000Z");
  });

  it("validates the routing rules and names the bad field", async () => {
    await setUp({ url: "smtp://127.0.0.1:9", port: 9 });
    const post = async (body: string, type = "application/json") => {
      const response = await app.request("/api/alerts/configure", { method: "POST", headers: { "content-type": type }, body });
      return { status: response.status, body: (await response.json()) as any };
    };
    expect(await post(JSON.stringify({ routes: [{ repository: "acme/api", email: ["nope"] }] }))).toEqual({
      status: 400,
      body: { error: "invalid rule routes.0.email.0: must be an email address", field: "routes.0.email.0" },
    });
    expect((await post(JSON.stringify({ mutes: [{ repository: "a/b", until: "tomorrow" }] }))).body.field).toBe("mutes.0.until");
    expect((await post(JSON.stringify({ colour: "red" }))).body.field).toBe("colour");
    expect((await post("{not json")).status).toBe(400);
    expect((await post("branches=main", "application/x-www-form-urlencoded")).status).toBe(415);
    const good = { branches: ["main", "release/*"], workflows: [], routes: [], mutes: [] };
    expect((await post(JSON.stringify(good))).status).toBe(200);
    expect(await (await app.request("/api/alerts/configure")).json()).toEqual(good);
  });

  it("sends a test alert to each configured channel and reports each", async () => {
    smtp = await startSmtpServer();
    await setUp(smtp);
    slack.queue((_call, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ok: false, error: "channel_not_found" }));
    });
    const response = await app.request("/api/alert/test", { method: "POST", headers: { "content-type": "application/json" } });
    expect(await response.json()).toEqual({
      email: { status: "sent" },
      slack: { status: "failed", error: "Slack chat.postMessage failed: channel_not_found" },
    });
    expect(smtp.messages[0]!.subject).toBe("[Runboard] Runboard test alert: this channel works");
    const history = (await (await app.request("/api/alerts")).json()) as any;
    const page = await (await app.request("/alerts")).text();
    expect(page).toContain("Slack chat.postMessage failed: channel_not_found");
    expect(history.alerts.map((a: { kind: string; status: string }) => `${a.kind}/${a.status}`).sort()).toEqual(["test/failed", "test/sent"]);
  });
});
