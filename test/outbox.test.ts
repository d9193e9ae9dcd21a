import { createServer as createNetServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { Hono } from "hono";
import pg from "pg";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAlertWorker } from "../src/alerts/alert-worker.js";
import { createEmailSender, type EmailSender } from "../src/alerts/email-sender.js";
import { ALERTS_OUTBOX } from "../src/db/alerts.js";
import { createOutbox } from "../src/db/outbox.js";
import { createCheckRunPublisher } from "../src/github/check-run-publisher.js";
import { createProbot, createRunboardOctokit } from "../src/github/create-probot.js";
import { createGithubClients } from "../src/github/github-clients.js";
import { createTestServer, deliver, silentLog, testConfig } from "./helpers/github-app.js";
import { never, startGithubStandIn, type GithubStandIn } from "./helpers/github-stand-in.js";
import { runPayload, type SeedRun } from "./helpers/seed-builds.js";
import { startSmtpServer, type TestSmtpServer } from "./helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "./helpers/test-database.js";

const INSTALLATION = 4711;
const base: SeedRun = { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date("2026-07-01T10:00:00Z"), seconds: 100, actor: "mona", message: "m" };
const sha = runPayload(base).workflow_run.head_sha as string;

/** A completed run of `workflow` on the commit of `base`. */
function onCommit(id: number, workflow: string, conclusion: "success" | "failure" = "success") {
  const payload = runPayload({ ...base, id, workflow, conclusion });
  payload.workflow_run.head_sha = sha;
  return { ...payload, installation: { id: INSTALLATION, node_id: "x" } };
}

const checkRunRow = z.object({ status: z.string(), version: z.number(), attempts: z.number(), check_run_id: z.number().nullable(), lease_token: z.string().nullable() });

describe("outbox workers never hold the write path", () => {
  let db: TestDatabase;
  let app: Hono;
  let github: GithubStandIn;
  let clock: Date;

  beforeEach(async () => {
    clock = new Date("2026-07-01T12:00:00Z");
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => clock });
    github = await startGithubStandIn();
  });
  afterEach(async () => {
    await github.stop();
    await db.drop();
  });

  /** The publisher as production builds it (throttling and retries on), against the stand-in, with a short deadline. */
  const publisher = (deadlineMs: number) =>
    createCheckRunPublisher({
      pool: db.pool,
      github: createGithubClients({ getProbot: () => probot, log: silentLog }),
      log: silentLog,
      now: () => clock,
      baseUrl: "http://runboard.test",
      minIntervalMs: 0,
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 },
    });
  let probot: ReturnType<typeof createProbot>;
  const buildProbot = (deadlineMs: number) => {
    probot = createProbot({ ...testConfig().github!, apiBaseUrl: github.apiUrl }, silentLog, createRunboardOctokit(), deadlineMs);
  };
  const checkRun = () => db.pool.one(sql.type(checkRunRow)`SELECT status, version, attempts, check_run_id, lease_token::text FROM check_runs WHERE head_sha = ${sha}`);
  const idleInTransaction = () =>
    db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);

  it("answers a commit's second workflow while GitHub holds the first one's check-run request", async () => {
    buildProbot(1_500);
    expect((await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI") })).status).toBe(200);
    github.handle(never);

    const pass = publisher(1_500).runOnce();
    await github.waitFor((call) => call.path.includes("/check-runs"));
    expect(await idleInTransaction()).toBe(0);

    const started = performance.now();
    const response = await deliver(app, { event: "workflow_run", payload: onCommit(2, "Deploy") });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(200);
    expect(elapsed).toBeLessThan(1_000);
    // The change is recorded beside the lease: the row will be sent again with it.
    expect(await checkRun()).toMatchObject({ status: "pending", version: 1 });
    expect((await checkRun()).lease_token).not.toBeNull();

    // The held request meets its deadline; the row waits for its retry, lease given back.
    await pass;
    expect(await checkRun()).toMatchObject({ status: "pending", attempts: 1, lease_token: null });
  });

  it("stops without waiting for a GitHub that never answers, leaving the row due again", async () => {
    buildProbot(10_000);
    await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI") });
    github.handle(never);
    const worker = publisher(10_000);
    worker.start();
    await github.waitFor((call) => call.path.includes("/check-runs"));

    const started = performance.now();
    await worker.stop();
    expect(performance.now() - started).toBeLessThan(2_000);
    const row = await db.pool.one(sql.type(z.object({ status: z.string(), attempts: z.number(), lease_token: z.string().nullable(), in_doubt: z.boolean() }))`
      SELECT status, attempts, lease_token::text, in_doubt FROM check_runs WHERE head_sha = ${sha}`);
    expect(row).toEqual({ status: "pending", attempts: 0, lease_token: null, in_doubt: true });
  });

  it("does not sleep out a rate limit in place: the row goes back with GitHub's reset time", async () => {
    buildProbot(5_000);
    await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI") });
    const resetAt = Math.ceil(Date.now() / 1000) + 3_600;
    github.handle(() => ({
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000", "x-ratelimit-reset": String(resetAt) },
      body: { message: "API rate limit exceeded for installation ID 1." },
    }));

    // Probot's own throttle options would retry this twice, sleeping until the reset each time.
    expect(await publisher(5_000).runOnce()).toBe(1);

    const row = await db.pool.one(sql.type(z.object({ status: z.string(), attempts: z.number(), wait_s: z.number() }))`
      SELECT status, attempts, extract(epoch FROM next_attempt_at - ${sql.timestamp(clock)})::int AS wait_s FROM check_runs WHERE head_sha = ${sha}`);
    expect(row.status).toBe("pending");
    expect(row.attempts).toBe(0);
    expect(row.wait_s).toBeGreaterThan(3_000);
    expect(github.calls.filter((call) => call.path.includes("/check-runs"))).toHaveLength(1);
  }, 15_000);

  it("writes the commit's newest state when a workflow finishes while its check run is being sent", async () => {
    buildProbot(5_000);
    await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI") });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writes: Array<{ method: string; summary: string }> = [];
    github.handle(async (call) => {
      if (call.method === "GET") return { status: 200, body: { total_count: 0, check_runs: [] } };
      writes.push({ method: call.method, summary: call.body.output.summary });
      if (call.method === "POST") {
        await held;
        return { status: 201, body: { id: 900 } };
      }
      return { status: 200, body: { id: 900 } };
    });

    const pass = publisher(5_000).runOnce();
    await github.waitFor((call) => call.method === "POST");
    await deliver(app, { event: "workflow_run", payload: onCommit(2, "Deploy", "failure") });
    release();

    // The same pass finds the row due again at once and updates the run it made.
    expect(await pass).toBe(2);
    expect(writes.map((w) => w.method)).toEqual(["POST", "PATCH"]);
    expect(writes[0]!.summary).not.toContain("Deploy");
    expect(writes[1]!.summary).toContain("Deploy");
    expect(await checkRun()).toMatchObject({ status: "done", check_run_id: 900, lease_token: null });
  });
});

describe("alert delivery outside any transaction", () => {
  let db: TestDatabase;
  let app: Hono;
  let smtp: TestSmtpServer;
  let gate: { server: Server; port: number; mode: "hang" | "forward"; sockets: Set<Socket> };
  let email: EmailSender;
  let clock: Date;

  /** Accepts SMTP connections and, until switched to forward, never says a word. */
  async function startGate(target: number) {
    const sockets = new Set<Socket>();
    const state = { mode: "hang" as "hang" | "forward" };
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      if (state.mode === "forward") {
        const upstream = connect(target, "127.0.0.1");
        sockets.add(upstream);
        upstream.on("close", () => sockets.delete(upstream));
        upstream.on("error", () => socket.destroy());
        socket.on("close", () => upstream.destroy());
        socket.pipe(upstream).pipe(socket);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return Object.assign(state, { server, port: (server.address() as AddressInfo).port, sockets });
  }

  beforeEach(async () => {
    clock = new Date("2026-07-01T12:00:00Z");
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    gate = await startGate(smtp.port);
    email = createEmailSender({
      smtpUrl: `smtp://127.0.0.1:${gate.port}`,
      from: "runboard@example.com",
      timeouts: { connectionTimeout: 1_000, greetingTimeout: 1_000, socketTimeout: 1_000, sendDeadlineMs: 3_000 },
    });
    const now = () => clock;
    app = await createTestServer(db.pool, { now, alerting: { email: { to: ["team@example.com"] }, slack: null, now, sendDelayMs: 0 } });
  });
  afterEach(async () => {
    email.close();
    for (const socket of gate.sockets) socket.destroy();
    await new Promise<void>((resolve) => gate.server.close(() => resolve()));
    await smtp.stop();
    await db.drop();
  });

  const worker = () =>
    createAlertWorker({
      pool: db.pool,
      log: silentLog,
      email,
      slack: null,
      baseUrl: "http://runboard.test",
      now: () => clock,
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 },
    });
  const alertRow = () =>
    db.pool.one(sql.type(z.object({ status: z.string(), attempts: z.number(), lease_token: z.string().nullable() }))`
      SELECT status, attempts, lease_token::text FROM alerts WHERE channel = 'email'`);

  it("holds no transaction while SMTP says nothing, and sends once when it answers again", async () => {
    expect((await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI", "failure") })).status).toBe(200);
    const pass = worker().runOnce();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
    expect(during).toBe(0);
    expect(await alertRow()).toMatchObject({ status: "pending", attempts: 0 });
    expect((await alertRow()).lease_token).not.toBeNull();
    await pass;
    expect(await alertRow()).toMatchObject({ status: "pending", attempts: 1, lease_token: null });
    expect(smtp.messages).toHaveLength(0);

    gate.mode = "forward";
    clock = new Date(clock.getTime() + 61_000);
    await worker().runOnce();
    clock = new Date(clock.getTime() + 10 * 60_000);
    await worker().runOnce();
    expect(smtp.messages).toHaveLength(1);
    expect(await alertRow()).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("takes over a lease its worker left when it runs out", async () => {
    gate.mode = "forward";
    await deliver(app, { event: "workflow_run", payload: onCommit(1, "CI", "failure") });
    // A worker claims the row and dies before it records anything.
    const claim = await createOutbox(db.pool, { ...ALERTS_OUTBOX, leaseMs: 120_000 }).claim(clock);
    expect(claim).not.toBeNull();

    expect(await worker().runOnce()).toBe(0);
    clock = new Date(clock.getTime() + 119_000);
    expect(await worker().runOnce()).toBe(0);
    clock = new Date(clock.getTime() + 2_000);
    expect(await worker().runOnce()).toBe(1);
    expect(smtp.messages).toHaveLength(1);
    expect(await alertRow()).toMatchObject({ status: "sent", lease_token: null });

    // The dead worker's late record changes nothing.
    expect(await createOutbox(db.pool, { ...ALERTS_OUTBOX, leaseMs: 120_000 }).record(claim!, { kind: "failed", error: "late" }, clock)).toBe(false);
    expect(await alertRow()).toMatchObject({ status: "sent" });
  });
});

describe("a held lock on the write path", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeEach(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool);
  });
  afterEach(async () => {
    await db.drop();
  });

  it("answers 503 within seconds, and the next deliveries are stored", async () => {
    const first = runPayload({ ...base, id: 10, status: "in_progress", conclusion: null });
    expect((await deliver(app, { event: "workflow_run", payload: first })).status).toBe(200);
    const holder = new pg.Client({ connectionString: db.connectionUri });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM builds WHERE external_id = 10 FOR UPDATE");

      const started = performance.now();
      const blocked = await deliver(app, { event: "workflow_run", payload: runPayload({ ...base, id: 10 }) });
      const elapsed = performance.now() - started;
      expect(blocked.status).toBe(503);
      expect(elapsed).toBeLessThan(6_000);
      // Another run is not held behind it.
      expect((await deliver(app, { event: "workflow_run", payload: runPayload({ ...base, id: 11 }) })).status).toBe(200);
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    expect((await deliver(app, { event: "workflow_run", payload: runPayload({ ...base, id: 10 }) })).status).toBe(200);
    const stored = await db.pool.any(sql.type(z.object({ external_id: z.number(), status: z.string() }))`
      SELECT external_id, status FROM builds ORDER BY external_id`);
    expect(stored).toEqual([
      { external_id: 10, status: "success" },
      { external_id: 11, status: "success" },
    ]);
  });
});
