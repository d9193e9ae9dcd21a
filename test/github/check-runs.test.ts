import type { Hono } from "hono";
import nock from "nock";
import pino from "pino";
import type { Probot } from "probot";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createCheckRunPublisher } from "../../src/github/check-run-publisher.js";
import { escapeMarkdown, renderCheckRunSummary, SUMMARY_LIMIT } from "../../src/github/check-run-summary.js";
import { createProbot } from "../../src/github/create-probot.js";
import { createTestServer, deliver, silentLog, testConfig, TestOctokit } from "../helpers/github-app.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const API = "https://api.github.com";
const INSTALLATION = 31337;
const NOW = new Date("2026-07-01T12:00:00Z");

function withInstallation(payload: Record<string, any>) {
  return { ...payload, installation: { id: INSTALLATION, node_id: "x" } };
}

const base: SeedRun = { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date("2026-07-01T10:00:00Z"), seconds: 100, actor: "mona", message: "m" };
const sha = runPayload(base).workflow_run.head_sha as string;

describe("check runs", () => {
  let db: TestDatabase;
  let app: Hono;
  let probot: Probot;
  let lines: string[];

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterAll(() => nock.enableNetConnect());

  beforeEach(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW });
    lines = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    probot = createProbot(testConfig().github!, log, TestOctokit);
    // Earlier green runs of CI on main, for the usual duration and the last green commit.
    for (const [i, seconds] of [60, 70, 80].entries()) {
      const earlier = { ...base, id: 100 + i, seconds, createdAt: new Date(Date.UTC(2026, 5, 20 + i)) };
      await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(earlier)) });
    }
    // Those enqueued their own commits' check runs: clear them, this test is about `sha`.
    await db.pool.query(sql.unsafe`DELETE FROM check_runs`);
  });
  afterEach(async () => {
    nock.cleanAll();
    await db.drop();
  });

  const publisher = () =>
    createCheckRunPublisher({
      pool: db.pool,
      getProbot: () => probot,
      log: pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }),
      now: () => NOW,
      baseUrl: "http://runboard.test",
      minIntervalMs: 0,
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 5 },
    });
  /** The installation token, as often as Probot asks; then the scope of the API calls under test. */
  const token = () => {
    nock(API)
      .persist()
      .post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z", permissions: { checks: "write" } });
    return nock(API);
  };

  it("creates one check run with the commit's summary when its first run completes", async () => {
    await deliver(app, { event: "workflow_job", payload: withInstallation(jobPayload({ ...base, conclusion: "failure" }, "lint", 0)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, conclusion: "failure", seconds: 98 })) });
    let posted: any;
    const scope = token()
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query({ check_name: "Runboard", filter: "latest", per_page: "1" })
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs", (body) => {
        posted = body;
        return true;
      })
      .reply(201, { id: 555 });
    expect(await publisher().runOnce()).toBe(1);
    expect(scope.isDone()).toBe(true);
    expect(posted).toMatchObject({ name: "Runboard", head_sha: sha, status: "completed", conclusion: "neutral" });
    expect(posted.output.title).toBe("1 of 1 workflow failed");
    const summary: string = posted.output.summary;
    expect(summary).toContain(`### CI health of \`${sha.slice(0, 7)}\``);
    // 98 s against a usual 70 s (p50 of 60, 70, 80).
    expect(summary).toContain("| ❌ failed | 1m 38s (+40% slower) | 1m 10s | 1 failed |");
    expect(summary).toContain("- **CI** › lint failed at step _Run yarn run format-check_");
    expect(summary.length).toBeLessThan(SUMMARY_LIMIT);
    const stored = await db.pool.one(sql.type(z.object({ check_run_id: z.number(), status: z.string() }))`
      SELECT check_run_id, status FROM check_runs`);
    expect(stored).toEqual({ check_run_id: 555, status: "done" });
  });

  it("updates the same check run when a second workflow of the commit completes", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    token()
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(201, { id: 777 });
    expect(await publisher().runOnce()).toBe(1);

    const deploy = runPayload({ ...base, id: 2, workflow: "Deploy" });
    deploy.workflow_run.head_sha = sha; // the same commit
    await deliver(app, { event: "workflow_run", payload: withInstallation(deploy) });
    let patched: any;
    const second = token()
      .patch("/repos/acme/api/check-runs/777", (body) => {
        patched = body;
        return true;
      })
      .reply(200, { id: 777 });
    expect(await publisher().runOnce()).toBe(1);
    expect(second.isDone()).toBe(true);
    expect(patched.output.title).toBe("2 workflows, none failed");
    expect(patched.output.summary).toContain("Deploy");
    expect(nock.pendingMocks().filter((m) => !m.includes("access_tokens"))).toEqual([]);
  });

  it("finds the run an ambiguous failed create made, instead of creating a second", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    const scope = token()
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(500, { message: "Server Error" })
      // The retry looks again, and GitHub had made it after all.
      .get(`/repos/acme/api/commits/${sha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [{ id: 901, name: "Runboard" }] })
      .patch("/repos/acme/api/check-runs/901")
      .reply(200, { id: 901 });
    const worker = publisher();
    expect(await worker.runOnce()).toBeGreaterThanOrEqual(1);
    expect(scope.isDone()).toBe(true);
    const stored = await db.pool.one(sql.type(z.object({ check_run_id: z.number().nullable(), status: z.string(), attempts: z.number() }))`
      SELECT check_run_id, status, attempts FROM check_runs`);
    expect(stored).toEqual({ check_run_id: 901, status: "done", attempts: 2 });
  });

  it("logs a missing checks permission once, and ingest goes on", async () => {
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(base)) });
    await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 3, message: "other" })) });
    const denied = { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com" };
    const scope = token()
      .get(/\/repos\/acme\/api\/commits\/[0-9a-f]+\/check-runs/)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/api/check-runs")
      .reply(403, denied);
    const worker = publisher();
    await worker.runOnce();
    expect(scope.isDone()).toBe(true);
    const warnings = lines.filter((l) => l.includes("lacks the Checks permission"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("Checks: read & write");
    // The other commit's row waits for the hour to pass: no further GitHub call now.
    expect(await worker.runOnce()).toBe(0);
    expect(lines.filter((l) => l.includes("lacks the Checks permission"))).toHaveLength(1);
    // Webhooks are still stored as before.
    const response = await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload({ ...base, id: 4 })) });
    expect(response.status).toBe(200);
    expect((await (await app.request("/api/builds")).json() as { total: number }).total).toBe(6);
  });

  it("escapes GitHub's text in the Markdown summary and stays under GitHub's cap", () => {
    expect(escapeMarkdown("<img src=x onerror=alert(1)>")).toBe("&lt;img src=x onerror=alert\\(1\\)&gt;");
    expect(escapeMarkdown("[link](javascript:alert(1)) | x")).toBe("\\[link\\]\\(javascript:alert\\(1\\)\\) \\| x");
    const manyJobs = Array.from({ length: 3000 }, (_, i) => ({
      workflow: "CI",
      name: `job ${i} ${"x".repeat(40)}`,
      failed_step: "step | with [link](javascript:1)",
      url: null,
      passed_on_this_commit: i % 2 === 0,
    }));
    const { summary } = renderCheckRunSummary(
      {
        workflows: [{ build_id: 1, workflow: "<b>CI</b>", status: "failed", branch: "main", duration_seconds: 10, usual_p50: null, recent_runs: 0, recent_failed: 0, last_green_sha: null }],
        failedJobs: manyJobs,
      },
      { headSha: "abc`def", defaultBranch: "<img src=x>", dashboardUrl: "http://runboard.test" },
    );
    expect(summary.length).toBeLessThanOrEqual(SUMMARY_LIMIT);
    expect(summary).toMatch(/- …and \d+ more failed jobs/);
    expect(summary).not.toContain("<b>");
    expect(summary).not.toContain("<img");
    expect(summary).not.toContain("](javascript");
    expect(summary).toContain("abc\\`def");
  });
});
