import type { Hono } from "hono";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { getFailureInsights } from "../../src/db/failure-excerpts.js";
import { createProbot, createRunboardOctokit } from "../../src/github/create-probot.js";
import { createFailureReader } from "../../src/github/failure-reader.js";
import { createGithubClients } from "../../src/github/github-clients.js";
import { createHistoryImport } from "../../src/github/history-import.js";
import { createPoller } from "../../src/github/poller.js";
import { addRepository, spreadRuns, startActionsStandIn, type ActionsStandIn } from "../helpers/actions-stand-in.js";
import { createTestServer, deliver, silentLog, testConfig, testGithubParts } from "../helpers/github-app.js";
import { jobLog, red } from "../helpers/job-log.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-01T12:00:00Z");
const TOKEN = "ghp_R3alLook1ngT0kenThatNoOneMasked0123";
/** The check run of the example's failed job: its id is not the job's. */
const CHECK_RUN_ID = 1291536064;

const rows = z.object({
  job_id: z.number(),
  status: z.string(),
  attempts: z.number(),
  next_attempt_at: z.date(),
  lines: z.array(z.string()),
  annotations: z.unknown(),
  missing_reason: z.string().nullable(),
  signature: z.string().nullable(),
  last_error: z.string().nullable(),
});

describe("failure reader", () => {
  let db: TestDatabase;
  let standIn: ActionsStandIn;
  let app: Hono;

  beforeEach(async () => {
    db = await createTestDatabase();
    standIn = await startActionsStandIn();
    app = await createTestServer(db.pool, { now: () => NOW });
  });
  afterEach(async () => {
    await standIn.stop();
    await db.drop();
  });

  const reader = () => {
    const probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, createRunboardOctokit());
    return createFailureReader({
      pool: db.pool,
      github: createGithubClients({ getProbot: () => probot, log: silentLog }),
      log: silentLog,
      now: () => NOW,
      notReadyWaitsMs: [0, 0, 0],
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 3 },
    });
  };

  const run = (id: number, overrides: Partial<SeedRun> = {}): SeedRun => ({
    id,
    repository: "acme/api",
    workflow: "CI",
    branch: "main",
    conclusion: "failure",
    createdAt: new Date(NOW.getTime() - 3_600_000 + id * 60_000),
    seconds: 100,
    actor: "mona",
    message: "m",
    ...overrides,
  });

  /** Delivers a run that failed, with its failed job, and serves that job's log and annotations. */
  async function failedRun(seed: SeedRun, output: string[], options: { annotations?: any[]; log?: false | { notReadyTimes?: number; gone?: boolean } } = {}) {
    const job = jobPayload(seed, "test", 0);
    job.installation = { id: standIn.installationId, node_id: "x" };
    const runDelivery = runPayload(seed);
    runDelivery.installation = { id: standIn.installationId, node_id: "x" };
    standIn.annotations.set(CHECK_RUN_ID, options.annotations ?? []);
    if (options.log !== false) standIn.logs.set(job.workflow_job.id, { body: jobLog(job.workflow_job.steps, output), ...options.log });
    expect((await deliver(app, { event: "workflow_job", payload: job })).status).toBe(200);
    expect((await deliver(app, { event: "workflow_run", payload: runDelivery })).status).toBe(200);
    return job.workflow_job.id as number;
  }

  const stored = async () => [...(await db.pool.any(sql.type(rows)`
    SELECT job_id, status, attempts, next_attempt_at, lines, annotations, missing_reason, signature, last_error
    FROM failure_excerpts ORDER BY job_id`))];

  it("reads a failed job's annotations and the end of its failed step's log once, with secrets redacted", async () => {
    const jobId = await failedRun(
      run(1),
      [red("FAIL test/api.test.ts > saves the order"), `curl -H "Authorization: token ${TOKEN}" https://api.example.com`, "AssertionError: expected 201 to be 200"],
      {
        annotations: [
          { path: ".github", start_line: 1, end_line: 1, annotation_level: "failure", message: "Process completed with exit code 1.", title: "" },
          { path: "test/api.test.ts", start_line: 41, end_line: 41, annotation_level: "failure", message: `expected 201 to be 200 (${TOKEN})`, title: "saves the order" },
        ],
      },
    );
    expect(await stored()).toMatchObject([{ job_id: jobId, status: "pending" }]);

    expect(await reader().runOnce()).toBe(1);

    const [row] = await stored();
    expect(row).toMatchObject({ status: "done", missing_reason: null });
    expect(row!.lines).toEqual([
      "Run yarn run format-check",
      "yarn run format-check",
      "shell: /usr/bin/bash -e {0}",
      "FAIL test/api.test.ts > saves the order",
      'curl -H "Authorization: token ***" https://api.example.com',
      "AssertionError: expected 201 to be 200",
      "Error: Process completed with exit code 1.",
    ]);
    expect(row!.annotations).toEqual([
      { level: "failure", message: "Process completed with exit code 1.", path: null, line: null, title: null },
      { level: "failure", message: "expected *** to be *** (***)".replace("*** to be ***", "201 to be 200"), path: "test/api.test.ts", line: 41, title: "saves the order" },
    ]);
    expect(row!.signature).toBe("expected <n> to be <n> (***)");
    // The token reached no table.
    const dump = await db.pool.oneFirst(sql.type(z.object({ dump: z.string() }))`
      SELECT string_agg(t::text, ' ') AS dump FROM (SELECT * FROM failure_excerpts) t`);
    expect(dump).not.toContain(TOKEN);
    // The log came from the address GitHub redirected to, without the installation's token.
    const download = standIn.calls.find((c) => c.path.startsWith("/_logs/"))!;
    expect(download.authorization).toBeNull();
    expect(standIn.calls.filter((c) => c.path.endsWith(`/check-runs/${CHECK_RUN_ID}/annotations`))).toHaveLength(1);

    // Read once: a redelivery of the job queues nothing, and there is nothing left to read.
    const again = jobPayload(run(1), "test", 0);
    again.installation = { id: standIn.installationId, node_id: "x" };
    await deliver(app, { event: "workflow_job", payload: again });
    expect(await reader().runOnce()).toBe(0);
    expect((await stored()).map((r) => r.status)).toEqual(["done"]);
  });

  it("asks again for a log that is not there yet, and reads it once it is", async () => {
    await failedRun(run(1), ["Error: Cannot find module 'left-pad'"], { log: { notReadyTimes: 2 } });
    const worker = reader();
    expect(await worker.runOnce()).toBe(3);
    const [row] = await stored();
    expect(row).toMatchObject({ status: "done", missing_reason: null });
    expect(row!.lines).toContain("Error: Cannot find module 'left-pad'");
    expect(standIn.calls.filter((c) => c.path.endsWith("/logs"))).toHaveLength(3);
  });

  it("records a log that stays missing, or is gone, with the reason and no excerpt", async () => {
    const gone = await failedRun(run(1), ["x"], { log: { gone: true } });
    const missing = await failedRun(run(2), ["x"], { log: false });
    expect(await reader().runOnce()).toBe(5);
    const byJob = new Map((await stored()).map((r) => [r.job_id, r]));
    expect(byJob.get(gone)).toMatchObject({ status: "done", lines: [], missing_reason: "the log is gone (GitHub answered 410)" });
    expect(byJob.get(missing)).toMatchObject({ status: "done", lines: [], missing_reason: "the log was not found (GitHub answered 404)" });
  });

  it("gives a job back with GitHub's time when the installation meets its rate limit, without counting an attempt", async () => {
    await failedRun(run(1), ["x"]);
    standIn.intercept = (call) =>
      call.path.endsWith("/annotations")
        ? {
            status: 403,
            body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
            headers: { "retry-after": "3600" },
          }
        : undefined;
    expect(await reader().runOnce()).toBe(1);
    const [row] = await stored();
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
    // On the worker's clock: GitHub's wait from now.
    expect(row!.next_attempt_at.getTime()).toBeGreaterThan(NOW.getTime() + 3_000_000);
    expect(standIn.calls.filter((c) => c.path.endsWith("/logs"))).toHaveLength(0);
  });

  it("gives two failures that differ only in numbers and paths one signature, and the second says it was seen before", async () => {
    await failedRun(run(1, { runNumber: 41 }), ["Error: connect ECONNREFUSED 10.0.3.7:5432 from /home/runner/work/api/db.ts:12"]);
    expect(await reader().runOnce()).toBe(1);
    await failedRun(run(2, { runNumber: 42 }), ["Error: connect ECONNREFUSED 10.0.9.1:6543 from /tmp/ci-88/db.ts:97"]);
    expect(await reader().runOnce()).toBe(1);
    const signatures = (await stored()).map((r) => r.signature);
    expect(signatures[0]).toBeTruthy();
    expect(signatures[1]).toBe(signatures[0]);

    const builds = await db.pool.anyFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds ORDER BY external_id`);
    const first = await getFailureInsights(db.pool, builds[0]!);
    const second = await getFailureInsights(db.pool, builds[1]!);
    expect([...first.values()][0]!.seenBefore).toBeNull();
    expect([...second.values()][0]!.seenBefore).toMatchObject({ others: 1, firstRunNumber: 41, branches: ["main"] });
  });

  it("reads the failures of imported history only for its last few days, and only while the import's budget lasts", async () => {
    const now = new Date();
    const DAY = 86_400_000;
    // Ten runs over nine days, every second one failed: five failures, two of them in the last three days.
    addRepository(standIn, 301, "acme/api", spreadRuns(10, new Date(now.getTime() - 9 * DAY), new Date(now.getTime() - 3_600_000), { failEvery: 2 }));
    const probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, createRunboardOctokit());
    const parts = testGithubParts(db.pool, probot, { now: () => now });
    const poller = createPoller({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => now, intervalSeconds: 0, jitterSeconds: 0 });
    const history = createHistoryImport({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => now, days: 30 });
    await poller.pollOnce();
    expect(await history.runOnce()).toBe(1);

    const queued = await db.pool.any(sql.type(z.object({ failed_at: z.date(), history: z.boolean() }))`
      SELECT failed_at, history FROM failure_excerpts ORDER BY failed_at`);
    expect(queued).toHaveLength(2);
    expect(queued.every((q) => q.history && q.failed_at.getTime() > now.getTime() - 3 * DAY)).toBe(true);

    // Under the import's share of the hour's requests, history waits for the reset.
    standIn.budget.remaining = 900;
    await poller.pollOnce();
    const worker = createFailureReader({ pool: db.pool, github: parts.github, log: silentLog, now: () => now });
    expect(await worker.runOnce()).toBe(2);
    expect(standIn.calls.filter((c) => c.path.endsWith("/logs"))).toHaveLength(0);
    const waiting = await stored();
    expect(waiting.every((r) => r.status === "pending" && r.attempts === 0 && r.next_attempt_at.getTime() >= standIn.budget.reset * 1000)).toBe(true);
  });
});
