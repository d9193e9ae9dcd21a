import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { sql } from "slonik";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { clone, workflowExamples } from "../helpers/webhook-examples.js";

const examples = workflowExamples();
const runExample = examples.find((e) => e.event === "workflow_run" && e.payload.workflow_run.status === "completed")!;
const jobExample = examples.find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!;

const counts = z.object({ builds: z.number(), jobs: z.number(), deliveries: z.number() });

async function tableCounts(db: TestDatabase) {
  return db.pool.one(sql.type(counts)`
    SELECT (SELECT count(*)::int FROM builds) AS builds,
           (SELECT count(*)::int FROM build_jobs) AS jobs,
           (SELECT count(*)::int FROM deliveries) AS deliveries`);
}

const finalState = z.object({
  external_id: z.number(),
  repository_id: z.number(),
  run_attempt: z.number(),
  status: z.string(),
  updated_at: z.date().nullable(),
  finished_at: z.date().nullable(),
});

async function buildStates(db: TestDatabase) {
  return db.pool.any(sql.type(finalState)`
    SELECT external_id, repository_id, run_attempt, status, updated_at, finished_at
    FROM builds ORDER BY repository_id, external_id`);
}

async function jobStates(db: TestDatabase) {
  return db.pool.any(sql.type(z.object({ id: z.number(), status: z.string(), progress: z.number() }))`
    SELECT id, status, progress FROM build_jobs ORDER BY id`);
}

describe("webhook endpoint", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    await db.pool.query(sql.unsafe`TRUNCATE builds, build_jobs, deliveries CASCADE`);
  });

  it("has real workflow_run and workflow_job examples to replay", () => {
    expect(examples.filter((e) => e.event === "workflow_run").length).toBeGreaterThanOrEqual(5);
    expect(examples.filter((e) => e.event === "workflow_job").length).toBeGreaterThanOrEqual(8);
  });

  it("stores every workflow_run and workflow_job example, each run and job once", async () => {
    for (const example of examples) {
      const response = await deliver(app, { event: example.event, payload: example.payload });
      expect(response.status, example.label).toBe(200);
    }
    const runKeys = new Set(
      examples
        .filter((e) => e.event === "workflow_run")
        .map((e) => `${e.payload.workflow_run.repository?.id ?? e.payload.repository.id}/${e.payload.workflow_run.id}`),
    );
    const jobRunKeys = new Set(
      examples.filter((e) => e.event === "workflow_job").map((e) => `${e.payload.repository.id}/${e.payload.workflow_job.run_id}`),
    );
    const jobIds = new Set(examples.filter((e) => e.event === "workflow_job").map((e) => e.payload.workflow_job.id));
    const stored = await tableCounts(db);
    expect(stored.deliveries).toBe(examples.length);
    expect(stored.builds).toBe(new Set([...runKeys, ...jobRunKeys]).size);
    expect(stored.jobs).toBe(jobIds.size);

    const run = await db.pool.one(sql.type(z.object({ status: z.string(), workflow: z.string(), payload: z.unknown() }))`
      SELECT status, workflow, payload FROM builds WHERE external_id = 289782451`);
    // The examples for this run include a completed success; nothing later moves it back.
    expect(run.status).toBe("success");
    // Its workflow has an empty name: the workflow file stands in.
    expect(run.workflow).toBe("test.yml");
    expect(run.payload).toMatchObject({ id: 289782451, status: "completed" });
  });

  it("ends in the same state whatever order the examples arrive in", async () => {
    const other = await createTestDatabase();
    try {
      const otherApp = await createTestServer(other.pool);
      for (const example of examples) await deliver(app, { event: example.event, payload: example.payload });
      for (const example of [...examples].reverse()) {
        await deliver(otherApp, { event: example.event, payload: example.payload });
      }
      expect(await buildStates(other)).toEqual(await buildStates(db));
      expect(await jobStates(other)).toEqual(await jobStates(db));
    } finally {
      await other.drop();
    }
  });

  it("refuses a bad signature with 401 and stores nothing", async () => {
    const response = await deliver(app, { event: "workflow_run", payload: runExample.payload, secret: "not-the-secret" });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "signature does not match the webhook secret" });
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("refuses a body changed after signing", async () => {
    const signed = JSON.stringify(runExample.payload);
    const response = await app.request("/api/github/webhooks", {
      method: "POST",
      headers: {
        "x-github-delivery": randomUUID(),
        "x-github-event": "workflow_run",
        "x-hub-signature-256": (await (await import("@octokit/webhooks-methods")).sign("test-webhook-secret-8f3a", signed)),
      },
      body: signed.replace('"success"', '"failure"'),
    });
    expect(response.status).toBe(401);
    expect((await tableCounts(db)).builds).toBe(0);
  });

  it.each(["x-github-delivery", "x-github-event", "x-hub-signature-256"])("refuses a delivery without %s with 400", async (header) => {
    const response = await deliver(app, { event: "workflow_run", payload: runExample.payload, headers: { [header]: null } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: `missing header ${header}` });
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("refuses malformed JSON, even correctly signed, with 400", async () => {
    const response = await deliver(app, { event: "workflow_run", payload: null, body: '{"action": "completed", ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "body is not valid JSON" });
    const array = await deliver(app, { event: "workflow_run", payload: [1, 2] });
    expect(array.status).toBe(400);
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("refuses a body over GitHub's 25 MB cap with 413", async () => {
    const huge = JSON.stringify({ ...runExample.payload, padding: "x".repeat(26 * 1024 * 1024) });
    const response = await deliver(app, { event: "workflow_run", payload: null, body: huge });
    expect(response.status).toBe(413);
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("changes nothing when the same delivery arrives twice", async () => {
    const id = randomUUID();
    expect((await deliver(app, { id, event: "workflow_run", payload: runExample.payload })).status).toBe(200);
    const before = await db.pool.one(sql.type(z.object({ changed_at: z.date(), xmin: z.string() }))`
      SELECT changed_at, xmin::text FROM builds`);
    expect((await deliver(app, { id, event: "workflow_run", payload: runExample.payload })).status).toBe(200);
    const after = await db.pool.one(sql.type(z.object({ changed_at: z.date(), xmin: z.string() }))`
      SELECT changed_at, xmin::text FROM builds`);
    expect(after).toEqual(before);
    expect(await tableCounts(db)).toEqual({ builds: 1, jobs: 0, deliveries: 1 });
  });

  it("answers 2xx and stores nothing for events it does not record", async () => {
    const ping = await deliver(app, { event: "ping", payload: { zen: "Keep it logically awesome.", hook_id: 1 } });
    expect(ping.status).toBe(200);
    const unknown = await deliver(app, { event: "made_up_event", payload: { action: "whatever" } });
    expect(unknown.status).toBe(200);
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("answers 2xx and stores nothing for a workflow_run without a usable run", async () => {
    const noRun = clone(runExample.payload);
    delete noRun.workflow_run;
    expect((await deliver(app, { event: "workflow_run", payload: noRun })).status).toBe(200);
    const noId = clone(runExample.payload);
    noId.workflow_run.id = "not-a-number";
    expect((await deliver(app, { event: "workflow_run", payload: noId })).status).toBe(200);
    expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
  });

  it("stores what is sound in a messy payload", async () => {
    const messy = clone(runExample.payload);
    delete messy.installation;
    messy.action = "completed";
    messy.workflow_run.name = "";
    messy.workflow_run.path = null;
    messy.workflow_run.status = "in_progress"; // the action disagrees with the run's own status
    messy.workflow_run.conclusion = null;
    messy.workflow_run.head_commit = null;
    messy.workflow_run.actor = "not an object";
    messy.workflow_run.head_branch = "feature/\u0000nul";
    expect((await deliver(app, { event: "workflow_run", payload: messy })).status).toBe(200);
    const row = await db.pool.one(sql.type(z.object({
      status: z.string(), workflow: z.string(), installation_id: z.number().nullable(), branch: z.string().nullable(),
    }))`SELECT status, workflow, installation_id, branch FROM builds`);
    expect(row).toEqual({
      status: "running",
      workflow: `workflow ${runExample.payload.workflow_run.workflow_id}`,
      installation_id: null,
      branch: "feature/nul",
    });
  });

  it("keeps a run from moving backwards when statuses arrive out of order", async () => {
    const run = (status: string, conclusion: string | null, updatedAt: string) => {
      const payload = clone(runExample.payload);
      payload.workflow_run = { ...payload.workflow_run, status, conclusion, updated_at: updatedAt };
      return payload;
    };
    await deliver(app, { event: "workflow_run", payload: run("completed", "failure", "2026-01-01T10:05:00Z") });
    await deliver(app, { event: "workflow_run", payload: run("in_progress", null, "2026-01-01T10:01:00Z") });
    await deliver(app, { event: "workflow_run", payload: run("queued", null, "2026-01-01T10:00:00Z") });
    // Same rank, older snapshot: refused too.
    await deliver(app, { event: "workflow_run", payload: run("completed", "success", "2026-01-01T10:04:00Z") });
    const row = await db.pool.one(sql.type(z.object({ status: z.string(), conclusion: z.string().nullable() }))`
      SELECT status, conclusion FROM builds`);
    expect(row).toEqual({ status: "failed", conclusion: "failure" });
    expect((await tableCounts(db)).deliveries).toBe(4);
  });

  it("moves a run forward on a re-run and ignores the old attempt's late events", async () => {
    const attempt = (n: number, status: string, conclusion: string | null, updatedAt: string) => {
      const payload = clone(runExample.payload);
      payload.workflow_run = { ...payload.workflow_run, run_attempt: n, status, conclusion, updated_at: updatedAt };
      return payload;
    };
    await deliver(app, { event: "workflow_run", payload: attempt(1, "completed", "failure", "2026-01-01T10:05:00Z") });
    await deliver(app, { event: "workflow_run", payload: attempt(2, "queued", null, "2026-01-01T11:00:00Z") });
    let row = await db.pool.one(sql.type(z.object({ status: z.string(), run_attempt: z.number() }))`
      SELECT status, run_attempt FROM builds`);
    expect(row).toEqual({ status: "queued", run_attempt: 2 });
    // A late, redelivered event of attempt 1 does not win over attempt 2.
    await deliver(app, { event: "workflow_run", payload: attempt(1, "completed", "failure", "2026-01-01T10:05:00Z") });
    await deliver(app, { event: "workflow_run", payload: attempt(2, "completed", "success", "2026-01-01T11:04:00Z") });
    row = await db.pool.one(sql.type(z.object({ status: z.string(), run_attempt: z.number() }))`
      SELECT status, run_attempt FROM builds`);
    expect(row).toEqual({ status: "success", run_attempt: 2 });
    expect((await tableCounts(db)).builds).toBe(1);
  });

  it("leaves one row and no error when deliveries for one run arrive concurrently", async () => {
    const states: Array<[string, string | null, string]> = [
      ["queued", null, "2026-02-01T09:00:00Z"],
      ["in_progress", null, "2026-02-01T09:00:10Z"],
      ["completed", "success", "2026-02-01T09:03:00Z"],
    ];
    const deliveries = Array.from({ length: 24 }, (_, i) => {
      const [status, conclusion, updatedAt] = states[i % states.length]!;
      const payload = clone(runExample.payload);
      payload.workflow_run = { ...payload.workflow_run, status, conclusion, updated_at: updatedAt };
      return deliver(app, { event: "workflow_run", payload });
    });
    const responses = await Promise.all(deliveries);
    expect(responses.map((r) => r.status)).toEqual(Array(24).fill(200));
    const rows = await db.pool.any(sql.type(z.object({ status: z.string() }))`SELECT status FROM builds`);
    expect(rows).toEqual([{ status: "success" }]);
    expect((await tableCounts(db)).deliveries).toBe(24);
  });

  it("records a job that arrives before its run, then lets the run fill in the details", async () => {
    const job = clone(jobExample.payload);
    expect((await deliver(app, { event: "workflow_job", payload: job })).status).toBe(200);
    const stub = await db.pool.one(sql.type(z.object({ id: z.number(), status: z.string(), workflow: z.string(), has_payload: z.boolean() }))`
      SELECT id, status, workflow, payload IS NOT NULL AS has_payload FROM builds`);
    expect(stub).toMatchObject({ status: "queued", workflow: job.workflow_job.workflow_name, has_payload: false });

    const run = clone(runExample.payload);
    run.repository = job.repository;
    run.workflow_run = { ...run.workflow_run, id: job.workflow_job.run_id, repository: job.repository, name: "CodeQL" };
    expect((await deliver(app, { event: "workflow_run", payload: run })).status).toBe(200);
    const filled = await db.pool.one(sql.type(z.object({ id: z.number(), status: z.string(), has_payload: z.boolean() }))`
      SELECT id, status, payload IS NOT NULL AS has_payload FROM builds`);
    expect(filled).toEqual({ id: stub.id, status: "success", has_payload: true });

    const jobRow = await db.pool.one(sql.type(z.object({
      build_id: z.number(), status: z.string(), failed_step: z.string().nullable(), runner_labels: z.array(z.string()),
      queue_seconds: z.number().nullable(), run_seconds: z.number().nullable(),
    }))`SELECT build_id, status, failed_step, runner_labels, queue_seconds, run_seconds FROM build_jobs`);
    expect(jobRow).toEqual({
      build_id: stub.id,
      status: "failed",
      failed_step: "Run yarn run format-check",
      runner_labels: ["ubuntu-latest"],
      queue_seconds: 60,
      run_seconds: 198,
    });
  });

  it("keeps a job from moving backwards", async () => {
    const completed = clone(jobExample.payload);
    const running = clone(jobExample.payload);
    running.workflow_job = { ...running.workflow_job, status: "in_progress", conclusion: null, completed_at: null };
    running.workflow_job.steps = running.workflow_job.steps.slice(0, 3).map((s: object) => ({ ...s }));
    await deliver(app, { event: "workflow_job", payload: completed });
    await deliver(app, { event: "workflow_job", payload: running });
    const row = await db.pool.one(sql.type(z.object({ status: z.string(), progress: z.number() }))`
      SELECT status, progress FROM build_jobs`);
    expect(row).toEqual({ status: "failed", progress: completed.workflow_job.steps.length });
  });
});

describe("webhook endpoint without a GitHub App", () => {
  it("refuses webhooks with 503 and says what to configure", async () => {
    const db = await createTestDatabase();
    try {
      const app = await createTestServer(db.pool, { githubApp: false });
      const response = await deliver(app, { event: "workflow_run", payload: runExample.payload });
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).error).toMatch(/APP_ID.*PRIVATE_KEY.*WEBHOOK_SECRET/);
      expect(await tableCounts(db)).toEqual({ builds: 0, jobs: 0, deliveries: 0 });
    } finally {
      await db.drop();
    }
  });
});
