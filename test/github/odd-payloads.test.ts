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

// PostgreSQL's timestamptz has no year 0; JavaScript's Date goes up to +275760.
const YEAR_ZERO = "0000-01-01T00:00:00Z";
const FAR_FUTURE = "+275760-09-13T00:00:00Z";

/**
 * The JSON text of `payload` with each `@@name@@` marker replaced by raw JSON text (an escape
 * such as `\ud800`), so the odd text is exactly what GitHub's body would carry.
 */
function bodyWith(payload: unknown, escapes: Record<string, string>): string {
  let body = JSON.stringify(payload);
  for (const [name, escape] of Object.entries(escapes)) {
    expect(body, name).toContain(`@@${name}@@`);
    body = body.replaceAll(`@@${name}@@`, escape);
  }
  return body;
}

const storedRun = z.object({
  branch: z.string().nullable(),
  commit_message: z.string().nullable(),
  triggered_by: z.string().nullable(),
  status: z.string(),
  created_at: z.date().nullable(),
  updated_at: z.date().nullable(),
  started_at: z.date().nullable(),
  finished_at: z.date().nullable(),
  payload: z.any(),
});

async function theRun(db: TestDatabase, externalId: number) {
  return db.pool.one(sql.type(storedRun)`
    SELECT branch, commit_message, triggered_by, status, created_at, updated_at, started_at, finished_at, payload
    FROM builds WHERE external_id = ${externalId}`);
}

async function deliveryIds(db: TestDatabase): Promise<readonly string[]> {
  return db.pool.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM deliveries ORDER BY id`);
}

describe("correctly signed deliveries with text or dates PostgreSQL refuses", () => {
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

  it("stores a run whose branch, commit message and actor hold lone surrogates, each as U+FFFD", async () => {
    const payload = clone(runExample.payload);
    const run = payload.workflow_run;
    run.head_branch = "feature/@@high@@";
    run.head_commit.message = "fix @@low@@ and @@reversed@@, keep 🚀";
    run.triggering_actor.login = "octo@@high@@cat";
    run.head_commit.author.name = "Mona @@high@@";
    const id = randomUUID();
    const body = bodyWith(payload, { high: "\\ud800", low: "\\udfff", reversed: "\\udc00\\ud800" });

    const response = await deliver(app, { event: "workflow_run", payload: null, body, id });

    expect(response.status).toBe(200);
    const row = await theRun(db, run.id);
    expect(row).toMatchObject({
      branch: "feature/\ufffd",
      commit_message: "fix \ufffd and \ufffd\ufffd, keep 🚀",
      triggered_by: "octo\ufffdcat",
      status: "success",
      created_at: new Date(run.created_at),
    });
    expect(row.payload).toMatchObject({
      id: run.id,
      head_branch: "feature/\ufffd",
      head_commit: { message: "fix \ufffd and \ufffd\ufffd, keep 🚀", author: { name: "Mona \ufffd" } },
    });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it("stores a run whose text holds NUL characters, without them", async () => {
    const payload = clone(runExample.payload);
    const run = payload.workflow_run;
    run.head_branch = "feature/@@nul@@x";
    run.head_commit.message = "@@nul@@message";
    run.triggering_actor.login = "octo@@nul@@cat";
    run.head_commit.author.name = "Mona@@nul@@";
    // A NUL in a key reaches the JSONB payload only.
    run["odd@@nul@@key"] = "@@nul@@";
    const id = randomUUID();
    const body = bodyWith(payload, { nul: "\\u0000" });

    const response = await deliver(app, { event: "workflow_run", payload: null, body, id });

    expect(response.status).toBe(200);
    const row = await theRun(db, run.id);
    expect(row).toMatchObject({ branch: "feature/x", commit_message: "message", triggered_by: "octocat" });
    expect(row.payload).toMatchObject({ head_branch: "feature/x", head_commit: { author: { name: "Mona" } }, oddkey: "" });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it("stores a run created in year 0 with no creation or start time", async () => {
    const payload = clone(runExample.payload);
    const run = payload.workflow_run;
    run.created_at = YEAR_ZERO;
    run.run_started_at = YEAR_ZERO;
    const id = randomUUID();

    const response = await deliver(app, { event: "workflow_run", payload, id });

    expect(response.status).toBe(200);
    const row = await theRun(db, run.id);
    expect(row).toMatchObject({
      status: "success",
      created_at: null,
      started_at: null,
      updated_at: new Date(run.updated_at),
      finished_at: new Date(run.updated_at),
      branch: run.head_branch,
    });
    // The payload keeps GitHub's own text: a JSON string, not a timestamp.
    expect(row.payload).toMatchObject({ created_at: YEAR_ZERO, run_started_at: YEAR_ZERO });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it.each([
    ["the last date JavaScript knows", FAR_FUTURE],
    ["year 99999", "+099999-01-01T00:00:00Z"],
    ["year 10000", "+010000-01-01T00:00:00Z"],
  ])("stores a run updated in %s with no update or finish time", async (_label, updatedAt) => {
    const payload = clone(runExample.payload);
    const run = payload.workflow_run;
    run.updated_at = updatedAt;
    const id = randomUUID();

    const response = await deliver(app, { event: "workflow_run", payload, id });

    expect(response.status).toBe(200);
    const row = await theRun(db, run.id);
    expect(row).toMatchObject({ status: "success", updated_at: null, finished_at: null, created_at: new Date(run.created_at) });
    expect(row.payload).toMatchObject({ updated_at: updatedAt });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it("stores a run whose run number is past PostgreSQL's integer without it", async () => {
    const payload = clone(runExample.payload);
    payload.workflow_run.run_number = 2 ** 31;
    const id = randomUUID();

    const response = await deliver(app, { event: "workflow_run", payload, id });

    expect(response.status).toBe(200);
    const row = await db.pool.one(sql.type(z.object({ run_number: z.number().nullable(), run_attempt: z.number() }))`
      SELECT run_number, run_attempt FROM builds WHERE external_id = ${payload.workflow_run.id}`);
    expect(row).toEqual({ run_number: null, run_attempt: payload.workflow_run.run_attempt });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it("stores a job whose times and step times are out of range, and whose step names hold odd text", async () => {
    const payload = clone(jobExample.payload);
    const job = payload.workflow_job;
    job.started_at = YEAR_ZERO;
    job.completed_at = FAR_FUTURE;
    job.steps[0].started_at = YEAR_ZERO;
    job.steps[0].completed_at = FAR_FUTURE;
    job.steps[1].started_at = "not a date";
    const failedIndex = job.steps.findIndex((s: { conclusion: string }) => s.conclusion === "failure");
    job.steps[failedIndex].name = "Run @@high@@@@nul@@tests";
    job.runner_name = "runner @@low@@";
    const id = randomUUID();
    const body = bodyWith(payload, { high: "\\ud800", low: "\\udc00", nul: "\\u0000" });

    const response = await deliver(app, { event: "workflow_job", payload: null, body, id });

    expect(response.status).toBe(200);
    const row = await db.pool.one(sql.type(z.object({
      status: z.string(), queued_at: z.date().nullable(), started_at: z.date().nullable(), completed_at: z.date().nullable(),
      failed_step: z.string().nullable(), runner_name: z.string().nullable(), steps: z.any(), payload: z.any(),
    }))`SELECT status, queued_at, started_at, completed_at, failed_step, runner_name, steps, payload FROM build_jobs WHERE id = ${job.id}`);
    expect(row).toMatchObject({
      status: "failed",
      queued_at: new Date(job.created_at),
      started_at: null,
      completed_at: null,
      failed_step: "Run \ufffdtests",
      runner_name: "runner \ufffd",
    });
    expect(row.steps[0]).toMatchObject({ startedAt: null, completedAt: null });
    expect(row.steps[1]).toMatchObject({ startedAt: null, completedAt: jobExample.payload.workflow_job.steps[1].completed_at });
    expect(row.steps[failedIndex]).toMatchObject({ name: "Run \ufffdtests", status: "failed" });
    expect(row.payload).toMatchObject({ id: job.id, started_at: YEAR_ZERO, runner_name: "runner \ufffd" });
    expect(await deliveryIds(db)).toEqual([id]);
  });

  it("stores every real example with a lone surrogate and a NUL in every string", async () => {
    for (const example of examples) {
      const payload = everyString(clone(example.payload), (s) => `${s}@@odd@@`);
      const response = await deliver(app, { event: example.event, payload: null, body: bodyWith(payload, { odd: "\\ud800\\u0000" }) });
      expect(response.status, example.label).toBe(200);
    }
    const runs = examples.filter((e) => e.event === "workflow_run").map((e) => e.payload.workflow_run);
    const jobs = examples.filter((e) => e.event === "workflow_job").map((e) => e.payload.workflow_job);
    const stored = await db.pool.one(sql.type(z.object({ deliveries: z.number(), runs: z.number(), jobs: z.number() }))`
      SELECT (SELECT count(*)::int FROM deliveries) AS deliveries,
             (SELECT count(*)::int FROM builds WHERE payload IS NOT NULL) AS runs,
             (SELECT count(*)::int FROM build_jobs) AS jobs`);
    expect(stored).toEqual({
      deliveries: examples.length,
      runs: new Set(runs.map((r) => r.id)).size,
      jobs: new Set(jobs.map((j) => j.id)).size,
    });
    const branches = await db.pool.anyFirst(sql.type(z.object({ branch: z.string() }))`
      SELECT payload->>'head_branch' AS branch FROM builds WHERE payload IS NOT NULL
      UNION ALL SELECT branch FROM builds WHERE branch IS NOT NULL`);
    expect(branches.length).toBeGreaterThan(0);
    for (const branch of branches) expect(branch).toMatch(/^[^\u0000]*\ufffd$/);
  });

  it("answers every delivery of a concurrent batch, sound and odd alike, and stores them all", async () => {
    const sound = Array.from({ length: 20 }, (_, i) => {
      const payload = clone(runExample.payload);
      payload.workflow_run = { ...payload.workflow_run, id: 10_000 + i };
      return { event: "workflow_run", payload, id: `sound-${String(i).padStart(2, "0")}` };
    });
    const odd = clone(runExample.payload);
    odd.workflow_run = { ...odd.workflow_run, id: 20_000, head_branch: "odd/@@high@@@@nul@@", created_at: YEAR_ZERO, updated_at: FAR_FUTURE };
    const oddJob = clone(jobExample.payload);
    oddJob.workflow_job = { ...oddJob.workflow_job, started_at: YEAR_ZERO, name: "job @@high@@" };
    const deliveries = [
      ...sound.slice(0, 10),
      { event: "workflow_run", payload: null, body: bodyWith(odd, { high: "\\ud800", nul: "\\u0000" }), id: "odd-run" },
      { event: "workflow_job", payload: null, body: bodyWith(oddJob, { high: "\\udbff" }), id: "odd-job" },
      ...sound.slice(10),
    ];

    const responses = await Promise.all(deliveries.map((d) => deliver(app, d)));

    expect(responses.map((r) => r.status)).toEqual(deliveries.map(() => 200));
    expect(await deliveryIds(db)).toEqual(deliveries.map((d) => d.id).sort());
    const runs = await db.pool.anyFirst(sql.type(z.object({ external_id: z.number() }))`
      SELECT external_id FROM builds WHERE payload IS NOT NULL ORDER BY external_id`);
    expect(runs).toEqual([...sound.map((d) => d.payload.workflow_run.id), 20_000]);
    expect(await theRun(db, 20_000)).toMatchObject({ branch: "odd/\ufffd", created_at: null, updated_at: null });
    const jobName = await db.pool.oneFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM build_jobs`);
    expect(jobName).toBe("job \ufffd");
  });
});

/** `value` with every string in it (not the keys) passed through `change`. */
function everyString(value: any, change: (s: string) => string): any {
  if (typeof value === "string") return change(value);
  if (Array.isArray(value)) return value.map((v) => everyString(v, change));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, everyString(v, change)]));
  return value;
}
