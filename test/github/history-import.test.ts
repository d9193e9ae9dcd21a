import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import type { Probot } from "probot";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createProbot, createRunboardOctokit } from "../../src/github/create-probot.js";
import { createGithubClients } from "../../src/github/github-clients.js";
import { createHistoryImport } from "../../src/github/history-import.js";
import { createPoller } from "../../src/github/poller.js";
import { start, type RunningRunboard } from "../../src/start.js";
import {
  addRepository,
  installationCreated,
  runId,
  spreadRuns,
  startActionsStandIn,
  type ActionsCall,
  type ActionsStandIn,
  type Answer,
} from "../helpers/actions-stand-in.js";
import { createTestServer, deliver, silentLog, testConfig, testGithubParts, TestOctokit, WEBHOOK_SECRET } from "../helpers/github-app.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const DAY = 86_400_000;
const count = z.object({ n: z.number() });

const buildCount = (db: TestDatabase) => db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds`);

const externalIds = async (db: TestDatabase) =>
  (await db.pool.anyFirst(sql.type(z.object({ id: z.number() }))`SELECT external_id AS id FROM builds ORDER BY external_id`)) as number[];

const historyRow = z.object({
  repository_id: z.number(),
  history_state: z.string(),
  history_runs: z.number(),
  backfilled_to: z.date().nullable(),
});
const historyStates = (db: TestDatabase) =>
  db.pool.any(sql.type(historyRow)`
    SELECT repository_id, history_state, history_runs, backfilled_to FROM sync_repositories ORDER BY repository_id`);

/** Polls `check` until it is truthy; fails after `timeoutMs` naming what it waited for. */
async function waitUntil<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A delivery signed with the webhook secret, posted to the running app as GitHub does. */
async function post(url: string, event: string, payload: unknown): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-delivery": randomUUID(),
      "x-github-event": event,
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    },
    body,
  });
}

/** A gate the stand-in's answers can wait on. */
function gate() {
  let open!: () => void;
  const opened = new Promise<undefined>((resolve) => (open = () => resolve(undefined)));
  return { opened, open };
}

/**
 * Three repositories of the stand-in's installation: paged runs over the last 29 days (some
 * failed, each with jobs) and runs 31 to 35 days old that a 30-day import must leave out.
 * @returns the ids of the runs a 30-day import must store.
 */
function threeRepositories(standIn: ActionsStandIn, now: number): number[] {
  const old = (n: number) => spreadRuns(n, new Date(now - 35 * DAY), new Date(now - 31 * DAY));
  addRepository(standIn, 301, "acme/api", [...spreadRuns(250, new Date(now - 29 * DAY), new Date(now - 3_600_000), { failEvery: 10 }), ...old(20)]);
  addRepository(standIn, 302, "acme/web", [...spreadRuns(130, new Date(now - 29 * DAY), new Date(now - 2 * 3_600_000), { failEvery: 13 }), ...old(10)]);
  addRepository(standIn, 303, "acme/infra", [...spreadRuns(40, new Date(now - 29 * DAY), new Date(now - 5 * 3_600_000)), ...old(5)]);
  return standIn.repositories
    .flatMap((r) => r.runs)
    .filter((run) => new Date(run.created_at).getTime() > now - 30 * DAY)
    .map((run) => run.id as number)
    .sort((a, b) => a - b);
}

describe("history import", () => {
  let db: TestDatabase;
  let standIn: ActionsStandIn;
  let running: RunningRunboard | null;
  let smtp: TestSmtpServer | null;

  beforeEach(async () => {
    db = await createTestDatabase();
    standIn = await startActionsStandIn();
    running = null;
    smtp = null;
  });
  afterEach(async () => {
    await running?.stop();
    await standIn.stop();
    await smtp?.stop();
    await db.drop();
  });

  /** The whole app, as `main` starts it, against the stand-in as a GitHub Enterprise host. */
  const startApp = (env: Record<string, string> = {}, options: Partial<Parameters<typeof start>[0]> = {}) =>
    start({
      config: testConfig({
        DATABASE_URL: db.connectionUri,
        GHE_HOST: standIn.host,
        GHE_PROTOCOL: "http",
        BACKFILL_DAYS: "30",
        POLL_INTERVAL_SECONDS: "0",
        ...env,
      }),
      log: silentLog,
      ...options,
    });

  const allDone = async () => {
    const states = await historyStates(db);
    return states.length === standIn.repositories.length && states.every((s) => s.history_state === "done");
  };

  it("imports every run of the last 30 days of each repository once the app is installed, and nothing older, showing its progress meanwhile", async () => {
    const now = Date.now();
    const expected = threeRepositories(standIn, now);
    // GitHub holds the second repository's listing: the import is caught one repository in.
    const hold = gate();
    standIn.intercept = (call) => (call.path === "/repos/acme/web/actions/runs" ? hold.opened : undefined);
    running = await startApp();
    const url = running.url;

    expect((await post(url, "installation", installationCreated(standIn))).status).toBe(200);
    await waitUntil("the second repository's listing", () => standIn.calls.some((c) => c.path === "/repos/acme/web/actions/runs"));

    // While it runs: the overview and /api/sync say how far it got.
    const sync = (await (await fetch(`${url}/api/sync`)).json()) as any;
    expect(sync.importing).toBe(true);
    expect(sync.installations).toHaveLength(1);
    expect(sync.installations[0].history).toMatchObject({
      installation_id: standIn.installationId,
      account: "acme",
      repositories: 3,
      repositories_done: 1,
      runs: 250,
    });
    expect(sync.installations[0].history.text).toMatch(/^Importing history: 1 of 3 repositories, 250 runs, (about .+ left|starting)$/);
    expect(await (await fetch(`${url}/`)).text()).toContain("Importing history: 1 of 3 repositories, 250 runs");

    hold.open();
    await waitUntil("every repository imported", allDone);

    expect(await externalIds(db)).toEqual(expected);
    expect(expected).toHaveLength(420);
    // Failed runs have their jobs, read from GitHub: 2 per failed run in the window.
    const failed = await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds WHERE status = 'failed'`);
    expect(failed).toBe(25 + 10);
    expect(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM build_jobs`)).toBe(2 * failed);
    expect((await historyStates(db)).map((s) => s.history_runs)).toEqual([250, 130, 40]);
    // Listed in full pages, and never further back than 30 days.
    expect(standIn.listCalls("acme/api").map((c) => c.page)).toEqual([1, 2, 3]);
    for (const call of standIn.listCalls()) {
      expect(call.status).toBe(200);
      expect(call.from.getTime()).toBeGreaterThanOrEqual(now - 30 * DAY - 60_000);
    }
    expect(standIn.calls.filter((c) => c.path.endsWith("/actions/runs")).every((c) => c.query.get("per_page") === "100")).toBe(true);

    // Once done, neither says anything of an import.
    const after = (await (await fetch(`${url}/api/sync`)).json()) as any;
    expect(after.importing).toBe(false);
    expect(after.installations[0].history).toBeNull();
    expect(await (await fetch(`${url}/`)).text()).not.toContain("Importing history");
  });

  it("resumes after a restart mid-import: each run once, and no window read again", async () => {
    const now = Date.now();
    addRepository(standIn, 401, "acme/infra", spreadRuns(30, new Date(now - 29 * DAY), new Date(now - DAY)));
    addRepository(standIn, 402, "acme/web", spreadRuns(60, new Date(now - 29 * DAY), new Date(now - DAY), { failEvery: 20 }));
    // More than GitHub answers for one query: the import splits it into windows, stored one by one.
    addRepository(standIn, 403, "acme/api", spreadRuns(1_050, new Date(now - 29 * DAY), new Date(now - 3_600_000), { failEvery: 50 }));
    const big = standIn.repositories[2]!;
    // GitHub fails hard for the big repository's later windows: its import stops after its first.
    let firstFrom: number | null = null;
    standIn.intercept = (call) => {
      if (call.path !== "/repos/acme/api/actions/runs") return undefined;
      const from = new Date(call.query.get("created")!.split("..")[0]!).getTime();
      firstFrom ??= from;
      return from > firstFrom ? { status: 502, body: { message: "Server Error" } } : undefined;
    };
    running = await startApp();
    await post(running.url, "installation", installationCreated(standIn));
    await waitUntil("the big repository's later window refused", () => standIn.listCalls("acme/api").some((c) => c.status === 502));
    await running.stop();
    running = null;

    const stopped = await historyStates(db);
    expect(stopped.map((s) => s.history_state)).toEqual(["done", "done", "pending"]);
    const storedTo = stopped[2]!.backfilled_to!;
    expect(storedTo).toBeInstanceOf(Date);
    const runsBefore = stopped[2]!.history_runs;
    expect(runsBefore).toBeGreaterThan(0);
    expect(runsBefore).toBeLessThan(1_050);
    const readBefore = standIn.jobReads();
    const callsBefore = standIn.calls.length;

    standIn.intercept = null;
    running = await startApp();
    await waitUntil("every repository imported", allDone);

    expect(await externalIds(db)).toEqual(standIn.repositories.flatMap((r) => r.runs.map((run) => run.id)).sort((a, b) => a - b));
    expect(await buildCount(db)).toBe(30 + 60 + 1_050);
    // The progress counter counted each run once too.
    expect((await historyStates(db)).map((s) => s.history_runs)).toEqual([30, 60, 1_050]);
    const after = standIn.calls.slice(callsBefore);
    const listedAfter = after.filter((c) => c.path.endsWith("/actions/runs"));
    expect(listedAfter.length).toBeGreaterThan(0);
    for (const call of listedAfter) {
      // Only the unfinished repository, and only after its last stored window.
      expect(call.path).toBe("/repos/acme/api/actions/runs");
      expect(new Date(call.query.get("created")!.split("..")[0]!).getTime()).toBeGreaterThan(storedTo.getTime());
    }
    // The jobs of failed runs in the stored window were not read again.
    const readAfter = standIn.jobReads().slice(readBefore.length);
    expect(readAfter.filter((id) => readBefore.includes(id))).toEqual([]);
    const failedInBig = big.runs.filter((r) => r.conclusion === "failure").map((r) => r.id);
    expect([...readBefore, ...readAfter].filter((id) => failedInBig.includes(id)).sort((a, b) => a - b)).toEqual(failedInBig);
  });

  it("sends no alert and writes no check run for history, but shows a branch red at import as broken; a live failure alerts", async () => {
    const now = Date.now();
    smtp = await startSmtpServer();
    // acme/api main is red at import, for its last 3 runs; acme/web main went red and green again
    // in its history and is green now.
    const apiRuns = spreadRuns(40, new Date(now - 20 * DAY), new Date(now - 3_600_000), { failEvery: 7 });
    for (const spec of apiRuns.slice(-3)) spec.conclusion = "failure";
    const api = addRepository(standIn, 301, "acme/api", apiRuns);
    const web = addRepository(standIn, 302, "acme/web", spreadRuns(30, new Date(now - 20 * DAY), new Date(now - 3_600_000), { failEvery: 5, last: "success" }));
    addRepository(standIn, 303, "acme/infra", spreadRuns(20, new Date(now - 20 * DAY), new Date(now - 3_600_000)));
    running = await startApp(
      { SMTP_URL: smtp.url, ALERT_EMAIL_FROM: "runboard@example.com", ALERT_EMAIL_TO: "team@example.com" },
      { alertTimings: { intervalMs: 100, sendDelayMs: 0, retry: { baseDelayMs: 100, maxDelayMs: 100, maxAttempts: 3 } } },
    );
    await post(running.url, "installation", installationCreated(standIn));
    await waitUntil("every repository imported", allDone);
    expect(await buildCount(db)).toBe(90);

    // The outbox rows are what the workers send: none means nothing goes out (checked at
    // GitHub's end below, once the publisher has run for the live run).
    expect(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM alerts`)).toBe(0);
    expect(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM check_runs`)).toBe(0);
    // (The reader of recent failures may read their annotations: a read, not a check run.)
    expect(standIn.checkRunWrites()).toEqual([]);
    expect(smtp.messages).toEqual([]);
    const overview = await (await fetch(`${running.url}/`)).text();
    const brokenNow = overview.slice(overview.indexOf('id="broken"'));
    expect(brokenNow).toContain("acme/api · CI · main");
    // Red since the first of its 3 failed runs, as if they had come live.
    const state = await db.pool.one(sql.type(z.object({ failed_runs: z.number(), failing_since: z.date().nullable() }))`
      SELECT failed_runs, failing_since FROM branch_states WHERE repository_id = 301 AND branch = 'main'`);
    expect(state).toEqual({ failed_runs: 3, failing_since: new Date(api.runs.at(-3)!.updated_at) });
    expect(brokenNow).toContain("3 failed runs");
    expect(brokenNow).not.toContain("acme/web · CI · main");

    // A live failure on the branch that was green at import: an alert, by email, and a check run.
    const latest = web.runs.at(-1)!;
    const live = {
      ...structuredClone(latest),
      id: runId(302, 99),
      run_number: latest.run_number + 1,
      head_sha: "c0ffee".padEnd(40, "0"),
      conclusion: "failure",
      created_at: new Date(now - 120_000).toISOString(),
      run_started_at: new Date(now - 120_000).toISOString(),
      updated_at: new Date(now - 10_000).toISOString(),
    };
    const delivered = await post(running.url, "workflow_run", {
      action: "completed",
      workflow_run: live,
      repository: live.repository,
      installation: { id: standIn.installationId, node_id: "MDIz" },
    });
    expect(delivered.status).toBe(200);
    const alerts = await waitUntil("the broken alert sent", async () => {
      const rows = await db.pool.any(sql.type(z.object({ kind: z.string(), channel: z.string(), status: z.string(), build_id: z.number() }))`
        SELECT kind, channel, status, build_id FROM alerts ORDER BY id`);
      return rows.some((r) => r.channel === "email" && r.status === "sent") ? rows : null;
    });
    expect(alerts.map((a) => [a.kind, a.channel])).toEqual([["broken", "email"], ["broken", "slack"]]);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.text).toContain("acme/web");
    await waitUntil("the live run's check run", () => standIn.checkRunWrites().some((c) => c.body?.head_sha === live.head_sha));
    expect(standIn.checkRunWrites().every((c) => c.method === "PATCH" || c.body.head_sha === live.head_sha)).toBe(true);
  });

  it("pauses all of an installation's requests for a secondary rate limit's Retry-After", async () => {
    addRepository(standIn, 301, "acme/api", spreadRuns(5, new Date(Date.now() - DAY), new Date(Date.now() - 3_600_000)));
    const probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, createRunboardOctokit());
    const github = createGithubClients({ getProbot: () => probot, log: silentLog });
    let limited: number | null = null;
    standIn.intercept = (call): Answer | undefined => {
      if (limited !== null || !call.path.endsWith("/actions/runs")) return undefined;
      limited = call.at;
      return {
        status: 403,
        body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest" },
        headers: { "retry-after": "2" },
      };
    };
    const id = standIn.installationId;
    const listing = (await github.installation(id)).request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "api", per_page: 100 });
    await waitUntil("the installation paused", () => github.pausedUntil(id) !== null);
    // Another caller (another client of the same installation), another route.
    const jobs = (await github.installation(id)).request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs", {
      owner: "acme", repo: "api", run_id: runId(301, 0), attempt_number: 1,
    });
    // Another installation is not held back.
    const other = (await github.installation(id + 1)).request("GET /installation/repositories");
    const [listed, read, others] = await Promise.all([listing, jobs, other]);

    expect(listed.data.total_count).toBe(5);
    expect(read.data.total_count).toBe(2);
    expect(others.status).toBe(200);
    const at = (match: (c: ActionsCall) => boolean) => standIn.calls.filter(match).map((c) => c.at - limited!);
    // The refused listing again, and the jobs: both no sooner than Retry-After.
    const listings = at((c) => c.path.endsWith("/actions/runs"));
    expect(listings).toHaveLength(2);
    expect(listings[1]).toBeGreaterThanOrEqual(1_990);
    const [jobsAt] = at((c) => c.path.endsWith("/jobs"));
    expect(jobsAt).toBeGreaterThanOrEqual(1_990);
    const [otherAt] = at((c) => c.installationId === id + 1);
    expect(otherAt).toBeLessThan(1_500);
    expect(github.pausedUntil(id)).toBeNull();
  });

  describe("with a fixed clock", () => {
    const NOW = new Date("2026-08-10T12:00:00Z");
    let probot: Probot;

    beforeEach(() => {
      probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, TestOctokit);
    });

    it("stops the import when the budget falls under 20% and records the reset, while the poller keeps polling", async () => {
      standIn.budget.limit = 5_000;
      standIn.budget.reset = (NOW.getTime() + 45 * 60_000) / 1000;
      const from = new Date(NOW.getTime() - 9 * DAY);
      addRepository(standIn, 301, "acme/api", spreadRuns(150, from, new Date(NOW.getTime() - 3_600_000), { failEvery: 10 }));
      addRepository(standIn, 302, "acme/web", spreadRuns(150, from, new Date(NOW.getTime() - 3_600_000), { failEvery: 10 }));
      const infra = addRepository(standIn, 303, "acme/infra", spreadRuns(150, from, new Date(NOW.getTime() - 3_600_000), { failEvery: 10 }));
      const parts = testGithubParts(db.pool, probot, { now: () => NOW });
      const poller = createPoller({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => NOW, intervalSeconds: 0, jitterSeconds: 0 });
      const history = createHistoryImport({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => NOW, days: 30 });

      // The first poll finds the installation and its repositories, all pending.
      await poller.pollOnce();
      expect((await historyStates(db)).map((s) => s.history_state)).toEqual(["pending", "pending", "pending"]);

      // The import is held on its first listing: a poll meanwhile is not blocked by it.
      standIn.budget.remaining = 1_030;
      const hold = gate();
      standIn.intercept = (call) => (call.query.get("created")?.includes("..") ? hold.opened : undefined);
      const imported = history.runOnce();
      await waitUntil("the import's first listing", () => standIn.calls.some((c) => c.query.get("created")?.includes("..")));
      const duringImport = await poller.pollOnce();
      expect(duringImport.skipped).toBeUndefined();
      expect(duringImport.repositories).toBe(3);
      expect(duringImport.requests).toBeGreaterThan(0);
      hold.open();
      expect(await imported).toBe(1);

      // It stopped at the first answer under 1,000 of 5,000 left (but for the requests already in
      // flight then: the lister sends up to 3 at once), and waits for the reset.
      expect(standIn.budget.remaining).toBeLessThan(1_000);
      expect(standIn.budget.remaining).toBeGreaterThanOrEqual(997);
      const resumeAt = await db.pool.oneFirst(sql.type(z.object({ t: z.date().nullable() }))`SELECT history_resume_at AS t FROM installations`);
      expect(resumeAt).toEqual(new Date(standIn.budget.reset * 1000));
      expect((await historyStates(db)).map((s) => s.history_state)).toEqual(["done", "pending", "pending"]);
      const app = await createTestServer(db.pool, { now: () => NOW });
      const sync = (await (await app.request("/api/sync")).json()) as any;
      expect(sync.importing).toBe(true);
      expect(sync.installations[0].history).toMatchObject({ repositories_done: 1, paused_until: resumeAt!.toISOString() });
      expect(sync.installations[0].history.text).toContain("paused for the rate limit until 12:45 UTC");

      // Until the reset, another pass asks GitHub nothing.
      const before = standIn.calls.length;
      expect(await history.runOnce()).toBe(0);
      expect(standIn.calls.length).toBe(before);

      // The poller still polls, and finds a new run.
      const newest = infra.runs.at(-1)!;
      infra.runs.push({ ...newest, id: runId(303, 500), run_number: newest.run_number + 1, created_at: new Date(NOW.getTime() - 600_000).toISOString(), updated_at: new Date(NOW.getTime() - 300_000).toISOString() });
      const afterStop = await poller.pollOnce();
      expect(afterStop.skipped).toBeUndefined();
      expect(standIn.calls.length).toBeGreaterThan(before);
      expect(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds WHERE external_id = ${runId(303, 500)}`)).toBe(1);
    });

    it("reads the jobs of a run that finished with none stored, once, after two minutes", async () => {
      const repo = addRepository(standIn, 301, "acme/api", [
        // Finished 10 minutes before the poll, its workflow_job deliveries lost.
        { createdAt: new Date(NOW.getTime() - 12 * 60_000), conclusion: "success" },
        // Finished a minute before the poll: its jobs may still be on their way.
        { createdAt: new Date(NOW.getTime() - 3 * 60_000), conclusion: "success" },
        // Finished with its jobs delivered.
        { createdAt: new Date(NOW.getTime() - 20 * 60_000), conclusion: "failure" },
        // Finished 15 minutes before the poll; GitHub lists no job for it.
        { createdAt: new Date(NOW.getTime() - 17 * 60_000), conclusion: "success" },
      ]);
      const [withJobs, jobless, lost, recent] = repo.runs;
      standIn.jobs.set(jobless.id, []);
      const app = await createTestServer(db.pool, { now: () => NOW });
      const installation = { id: standIn.installationId, node_id: "MDIz" };
      for (const run of repo.runs) {
        expect((await deliver(app, { event: "workflow_run", payload: { action: "completed", workflow_run: run, repository: run.repository, installation } })).status).toBe(200);
      }
      for (const job of standIn.jobs.get(withJobs.id)!) {
        expect((await deliver(app, { event: "workflow_job", payload: { action: "completed", workflow_job: job, repository: withJobs.repository, installation } })).status).toBe(200);
      }
      const jobsOf = (runIdValue: number) =>
        db.pool.oneFirst(sql.type(count)`
          SELECT count(*)::int AS n FROM build_jobs j JOIN builds b ON b.id = j.build_id WHERE b.external_id = ${runIdValue}`);
      expect(await jobsOf(lost.id)).toBe(0);

      // Installed a day before these runs: they are live, not history.
      await db.pool.query(sql.unsafe`
        INSERT INTO installations (id, account, created_at) VALUES (${standIn.installationId}, 'acme', ${sql.timestamp(new Date(NOW.getTime() - 86_400_000))})
        ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at`);
      let clock = NOW;
      const parts = testGithubParts(db.pool, probot, { now: () => clock });
      const poller = createPoller({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => clock, intervalSeconds: 0, jitterSeconds: 0 });
      await poller.pollOnce();
      expect(standIn.jobReads()).toEqual([jobless.id, lost.id]);
      expect(await jobsOf(lost.id)).toBe(2);
      const names = await db.pool.anyFirst(sql.type(z.object({ name: z.string() }))`
        SELECT j.name FROM build_jobs j JOIN builds b ON b.id = j.build_id WHERE b.external_id = ${lost.id} ORDER BY j.name`);
      expect(names).toEqual(["lint", "test"]);

      // The next poll reads neither again (not even the one still without a job); the run that was
      // too recent is read once it is not.
      await poller.pollOnce();
      expect(standIn.jobReads()).toEqual([jobless.id, lost.id]);
      clock = new Date(NOW.getTime() + 5 * 60_000);
      await poller.pollOnce();
      await poller.pollOnce();
      expect(standIn.jobReads()).toEqual([jobless.id, lost.id, recent.id]);
      expect(await jobsOf(jobless.id)).toBe(0);
      expect(await jobsOf(recent.id)).toBe(2);
      expect(await jobsOf(withJobs.id)).toBe(2);
    });
  });
});
