import type { Hono } from "hono";
import nock from "nock";
import pino from "pino";
import { ProbotOctokit, type Probot } from "probot";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { resumeCheckRuns } from "../../src/db/check-runs.js";
import { createCheckRunPublisher } from "../../src/github/check-run-publisher.js";
import { SUMMARY_LIMIT } from "../../src/github/check-run-summary.js";
import { createProbot } from "../../src/github/create-probot.js";
import { createGithubClients } from "../../src/github/github-clients.js";
import { createTestServer, deliver, testConfig, TestOctokit } from "../helpers/github-app.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const API = "https://api.github.com";
const INSTALLATION = 31337;
const NOW = new Date("2026-07-01T12:00:00Z");
const DENIED = { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/checks/runs" };

function withInstallation(payload: Record<string, any>) {
  return { ...payload, installation: { id: INSTALLATION, node_id: "x" } };
}

const base: SeedRun = { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date("2026-07-01T10:00:00Z"), seconds: 100, actor: "mona", message: "m" };
const sha = runPayload(base).workflow_run.head_sha as string;

/** Another workflow's run of the same commit as `base`. */
function sameCommit(run: Partial<SeedRun> & { id: number; workflow: string }) {
  const payload = runPayload({ ...base, ...run });
  payload.workflow_run.head_sha = sha;
  return withInstallation(payload);
}

const storedRows = z.object({
  head_sha: z.string(),
  check_run_id: z.number().nullable(),
  status: z.string(),
  attempts: z.number(),
  next_attempt_at: z.date(),
});

describe("check runs", () => {
  let db: TestDatabase;
  let app: Hono;
  let lines: string[];
  let unmatched: string[];
  const log = () => pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const onNoMatch = (req: { method?: string; path?: string; href?: string }) => void unmatched.push(`${req.method} ${req.href ?? req.path}`);

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    nock.emitter.on("no match", onNoMatch);
  });
  afterAll(() => {
    nock.emitter.removeListener("no match", onNoMatch);
    nock.enableNetConnect();
  });

  beforeEach(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW });
    lines = [];
    unmatched = [];
    // Earlier green runs of CI on main, for the usual duration and the last green commit.
    for (const [i, seconds] of [60, 70, 80].entries()) {
      const earlier = { ...base, id: 100 + i, seconds, message: `Green ${i}\n\nbody`, createdAt: new Date(Date.UTC(2026, 5, 20 + i)) };
      await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(earlier)) });
    }
    // Ingest queued their own commits' check runs: these tests are about other commits.
    await db.pool.query(sql.unsafe`DELETE FROM check_runs`);
  });
  afterEach(async () => {
    nock.cleanAll();
    await db.drop();
  });

  const publisher = (options: { probot?: Probot | null; conclusion?: "neutral" | "auto"; minIntervalMs?: number; sleep?: (ms: number) => Promise<void> } = {}) => {
    const probot = options.probot === undefined ? createProbot(testConfig().github!, log(), TestOctokit) : options.probot;
    return createCheckRunPublisher({
      pool: db.pool,
      // The installation's clients keep GitHub's rate limits on the test's clock.
      github: createGithubClients({ getProbot: () => probot, log: log(), clock: () => NOW.getTime() }),
      log: log(),
      now: () => NOW,
      baseUrl: "http://runboard.test",
      conclusion: options.conclusion,
      minIntervalMs: options.minIntervalMs ?? 0,
      sleep: options.sleep,
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 5 },
    });
  };
  /** The installation token, as often as Probot asks for it. */
  const token = () =>
    nock(API)
      .persist()
      .post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z", permissions: { checks: "write" } });
  const rows = async () => [...(await db.pool.any(sql.type(storedRows)`SELECT head_sha, check_run_id, status, attempts, next_attempt_at FROM check_runs ORDER BY head_sha`))];

  it("creates one check run with the commit's summary when its first run completes", async () => {
    await deliver(app, { event: "workflow_job", payload: withInstallation(jobPayload({ ...base, conclusion: "failure" }, "lint", 0)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, conclusion: "failure", seconds: 98, message: "Speed up the cache\n\nbody" })) });
    const auth = token();
    let posted: any;
    const github = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query({ check_name: "Runboard", filter: "latest", per_page: "1" })
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs", (body) => {
        posted = body;
        return true;
      })
      .reply(201, { id: 555 });

    expect(await publisher().runOnce()).toBe(1);

    expect(auth.isDone()).toBe(true);
    expect(github.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    const green = runPayload({ ...base, id: 102 }).workflow_run.head_sha as string;
    expect(posted).toEqual({
      name: "Runboard",
      head_sha: sha,
      status: "completed",
      conclusion: "neutral",
      details_url: "http://runboard.test/builds?repository=acme%2Fapi",
      output: {
        title: "1 of 1 workflow failed",
        summary: [
          `### CI health of \`${sha.slice(0, 7)}\` on main`,
          "",
          "Speed up the cache",
          "",
          "| Workflow | Result | Duration | Usual on this branch (p50) | Last 10 on main | Last green on main |",
          "| --- | --- | --- | --- | --- | --- |",
          // 98 s against a usual 70 s (the p50 of 60, 70 and 80); 1 of the last 4 on main failed.
          `| [CI](http://runboard.test/builds/4) | ❌ failed | 1m 38s (+40% slower) | 1m 10s | 1 failed | \`${green.slice(0, 7)}\` Green 2 |`,
          "",
          "#### Failed jobs",
          "",
          // The job's address is the real example payload's.
          "- **CI** › [lint](https://github.com/octo-org/octo-repo/runs/1291536064) failed at step _Run yarn run format-check_",
          "",
          "[Open acme/api in Runboard](http://runboard.test/builds?repository=acme%2Fapi)",
        ].join("\n"),
      },
    });
    expect(posted.output.summary.length).toBeLessThan(SUMMARY_LIMIT);
    expect(await rows()).toMatchObject([{ check_run_id: 555, status: "done", attempts: 1 }]);
  });

  it("updates the same check run, once, when more workflows of the commit complete", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    const auth = token();
    const first = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(201, { id: 777 });
    const worker = publisher();
    expect(await worker.runOnce()).toBe(1);
    expect(first.isDone()).toBe(true);

    // Two more workflows finish before the worker's next pass: one write covers both.
    await deliver(app, { event: "workflow_run", payload: sameCommit({ id: 2, workflow: "Deploy" }) });
    await deliver(app, { event: "workflow_run", payload: sameCommit({ id: 3, workflow: "Lint", conclusion: "failure" }) });
    let patched: any;
    const second = nock(API)
      .patch("/repos/acme/api/check-runs/777", (body) => {
        patched = body;
        return true;
      })
      .reply(200, { id: 777 });
    expect(await worker.runOnce()).toBe(1);

    expect(auth.isDone()).toBe(true);
    expect(second.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    expect(patched).toMatchObject({ name: "Runboard", status: "completed", conclusion: "neutral" });
    expect(patched.head_sha).toBeUndefined();
    expect(patched.output.title).toBe("1 of 3 workflows failed");
    expect(patched.output.summary).toMatch(/\| \[CI\]\(.*\n\| \[Deploy\]\(.*\n\| \[Lint\]\(/);
    expect(await rows()).toMatchObject([{ check_run_id: 777, status: "done" }]);
  });

  it("finds the run an ambiguous 500 on create made, with Octokit's own retries on, instead of creating a second", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    const auth = token();
    let creates = 0;
    const github = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs", () => ++creates > 0)
      .reply(500, { message: "Server Error" })
      // The retry looks again, and GitHub had made it after all.
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [{ id: 901, name: "Runboard" }] })
      .patch("/repos/acme/api/check-runs/901")
      .reply(200, { id: 901 });
    // Production's Octokit retries a 5xx in place; a create must not be.
    const probot = createProbot(testConfig().github!, log(), ProbotOctokit.defaults({ throttle: { enabled: false } }));

    expect(await publisher({ probot }).runOnce()).toBe(2);

    expect(auth.isDone()).toBe(true);
    expect(github.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    expect(creates).toBe(1);
    expect(await rows()).toMatchObject([{ check_run_id: 901, status: "done", attempts: 2 }]);
    expect(lines.some((l) => l.includes("check run not written; will retry"))).toBe(true);
  });

  it("creates once after a network error when GitHub had made nothing", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    const auth = token();
    const github = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .twice()
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .replyWithError({ code: "ECONNRESET", message: "socket hang up" })
      .post("/repos/acme/api/check-runs")
      .reply(201, { id: 902 });

    expect(await publisher().runOnce()).toBe(2);

    expect(auth.isDone()).toBe(true);
    expect(github.isDone()).toBe(true);
    expect(await rows()).toMatchObject([{ check_run_id: 902, status: "done", attempts: 2 }]);
  });

  it("looks on the ref when the remembered run is gone, and creates a new one", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    const auth = token();
    const first = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(201, { id: 777 });
    const worker = publisher();
    await worker.runOnce();
    expect(first.isDone()).toBe(true);

    await deliver(app, { event: "workflow_run", payload: sameCommit({ id: 2, workflow: "Deploy" }) });
    const second = nock(API)
      .patch("/repos/acme/api/check-runs/777")
      .reply(404, { message: "Not Found" })
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(201, { id: 778 });
    expect(await worker.runOnce()).toBe(1);

    expect(auth.isDone()).toBe(true);
    expect(second.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    expect(await rows()).toMatchObject([{ check_run_id: 778, status: "done" }]);
  });

  it("logs a missing checks permission once, leaves the installation alone, and ingest goes on", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 3, message: "other" })) });
    const auth = token();
    // Without the permission GitHub refuses even the look-up.
    const denied = nock(API)
      .get(/\/repos\/acme\/api\/commits\/[0-9a-f]{40}\/check-runs/)
      .query(true)
      .reply(403, DENIED);
    const worker = publisher();

    expect(await worker.runOnce()).toBe(2);

    expect(auth.isDone()).toBe(true);
    expect(denied.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    const warnings = lines.filter((l) => l.includes("lacks the Checks permission"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 40,
      installationId: INSTALLATION,
      msg: expect.stringContaining(
        "Give the app Checks: read & write in its settings on GitHub, then accept the new permissions on the installation",
      ),
    });
    // Both commits wait the hour out; the second was never sent to GitHub.
    const inAnHour = new Date(NOW.getTime() + 60 * 60_000);
    expect(await rows()).toMatchObject([
      { status: "pending", next_attempt_at: inAnHour },
      { status: "pending", next_attempt_at: inAnHour },
    ]);
    expect((await rows()).map((r) => r.attempts).sort()).toEqual([0, 1]);
    expect(await worker.runOnce()).toBe(0);

    // Webhooks are stored as before, and a new commit of that installation waits too.
    const response = await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 4 })) });
    expect(response.status).toBe(200);
    expect(((await (await app.request("/api/builds")).json()) as { total: number }).total).toBe(6);
    expect(await worker.runOnce()).toBe(1);
    expect(lines.filter((l) => l.includes("lacks the Checks permission"))).toHaveLength(1);
    expect(unmatched).toEqual([]);

    // The new permissions are accepted: the waiting commits are written at once.
    expect(await resumeCheckRuns(db.pool, INSTALLATION, NOW)).toBe(3);
    const granted = nock(API)
      .get(/\/repos\/acme\/api\/commits\/[0-9a-f]{40}\/check-runs/)
      .query(true)
      .times(3)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .times(3)
      .reply(201, { id: 1000 });
    expect(await worker.runOnce()).toBe(3);
    expect(granted.isDone()).toBe(true);
    expect((await rows()).map((r) => r.status)).toEqual(["done", "done", "done"]);
    expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM check_run_permissions`)).toBe(0);
  });

  it("waits out a rate limit for the whole installation, without counting an attempt", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 3 })) });
    const auth = token();
    const limited = nock(API)
      .get(/\/repos\/acme\/api\/commits\/[0-9a-f]{40}\/check-runs/)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "120" });

    expect(await publisher().runOnce()).toBe(2);

    expect(auth.isDone()).toBe(true);
    expect(limited.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    const later = new Date(NOW.getTime() + 120_000);
    expect(await rows()).toMatchObject([
      { status: "pending", attempts: 0, next_attempt_at: later },
      { status: "pending", attempts: 0, next_attempt_at: later },
    ]);
  });

  it("spaces its writes minIntervalMs apart", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 3 })) });
    const auth = token();
    const github = nock(API)
      .get(/\/repos\/acme\/api\/commits\/[0-9a-f]{40}\/check-runs/)
      .query(true)
      .twice()
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .twice()
      .reply(201, { id: 1 });
    const waits: number[] = [];
    // A minute apart, so that a loaded machine taking a second between the writes still has to wait.
    const worker = publisher({ minIntervalMs: 60_000, sleep: async (ms) => void waits.push(ms) });

    expect(await worker.runOnce()).toBe(2);

    expect(auth.isDone()).toBe(true);
    expect(github.isDone()).toBe(true);
    // The first write goes at once; the second waits for the rest of the minute.
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(50_000);
    expect(waits[0]).toBeLessThanOrEqual(60_000);
  });

  it("leaves rows pending while no GitHub App is configured", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });

    expect(await publisher({ probot: null }).runOnce()).toBe(0);

    expect(unmatched).toEqual([]);
    expect(await rows()).toMatchObject([{ status: "pending", attempts: 0, check_run_id: null }]);
  });

  it("calls a job flaky when it failed and passed without a code change on other commits; auto conclusion fails the check", async () => {
    // Two earlier commits where `lint` failed, then passed on a re-run of the same commit.
    for (const id of [10, 11]) {
      const createdAt = new Date(Date.UTC(2026, 5, 25 + (id - 10)));
      const failing = { ...base, id, conclusion: "failure" as const, createdAt };
      await deliver(app, { event: "workflow_job", payload: withInstallation(jobPayload(failing, "lint", 0)) });
      await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(failing)) });
      const rerun = { ...failing, conclusion: "success" as const, attempt: 2 };
      const passed = jobPayload(rerun, "lint", 0);
      passed.workflow_job.id = id * 10 + 5; // a re-run's job has a new id
      await deliver(app, { event: "workflow_job", payload: withInstallation(passed) });
      await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(rerun)) });
    }
    await db.pool.query(sql.unsafe`DELETE FROM check_runs`);
    await deliver(app, { event: "workflow_job", payload: withInstallation(jobPayload({ ...base, conclusion: "failure" }, "lint", 0)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, conclusion: "failure" })) });
    const auth = token();
    let posted: any;
    const github = nock(API)
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs", (body) => {
        posted = body;
        return true;
      })
      .reply(201, { id: 556 });

    expect(await publisher({ conclusion: "auto" }).runOnce()).toBe(1);

    expect(auth.isDone()).toBe(true);
    expect(github.isDone()).toBe(true);
    expect(posted.conclusion).toBe("failure");
    expect(posted.output.summary).toContain(
      "failed at step _Run yarn run format-check_ — looks flaky: it failed and passed without a code change on 2 other commits in the last 30 days",
    );
  });
});
