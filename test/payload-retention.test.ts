import type { Hono } from "hono";
import pg from "pg";
import pino from "pino";
import { sql, type DatabasePool } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { getUsageGroups } from "../src/db/job-metrics.js";
import { getWorkflowPeriods } from "../src/db/workflow-stats.js";
import { createRunboardMetrics } from "../src/metrics/runboard-metrics.js";
import { createPayloadRetention } from "../src/payload-retention.js";
import { createTestServer, deliver } from "./helpers/github-app.js";
import { jobPayload, realisticRuns, runPayload, type SeedRun } from "./helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "./helpers/test-database.js";

const NOW = new Date("2026-06-10T12:00:00Z");
const DAY = 86_400_000;
const silent = pino({ level: "silent" });

/** Old runs (about 200 days ago) and recent ones (the last fortnight), with two jobs each. */
const oldRuns = realisticRuns(new Date(NOW.getTime() - 186 * DAY), 24);
const newRuns = realisticRuns(NOW, 16).map((run) => ({ ...run, id: run.id + 10_000 }));

async function store(app: Hono, run: SeedRun) {
  for (const index of [0, 1]) expect((await deliver(app, { event: "workflow_job", payload: jobPayload(run, `job ${index}`, index) })).status).toBe(200);
  expect((await deliver(app, { event: "workflow_run", payload: runPayload(run) })).status).toBe(200);
}

const json = z.object({ rows: z.unknown() });
/** Every row of a table as JSON, in a stable order, without the columns named. */
async function contents(pool: DatabasePool, table: string, without: string[] = []) {
  return pool.oneFirst(sql.type(json)`
    SELECT coalesce(jsonb_agg(r ORDER BY r::text), '[]') AS rows
    FROM (SELECT to_jsonb(t) - ${sql.array(without, "text")} AS r FROM ${sql.identifier([table])} t) s`);
}
async function tables(pool: DatabasePool) {
  return pool.manyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
}
const kept = (pool: DatabasePool) =>
  pool.any(sql.type(z.object({ external_id: z.number(), run: z.boolean(), jobs: z.number() }))`
    SELECT b.external_id, b.payload IS NOT NULL AS run, count(j.id) FILTER (WHERE j.payload IS NOT NULL)::int AS jobs
    FROM builds b LEFT JOIN build_jobs j ON j.build_id = b.id GROUP BY b.id ORDER BY b.external_id`);

describe("payload retention", () => {
  let db: TestDatabase;
  let app: Hono;
  beforeEach(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW, alerting: { email: { to: ["team@example.com"] } }, payloadRetentionDays: 90 });
    for (const run of [...oldRuns, ...newRuns]) await store(app, run);
    // One old failed job's log is still to be read (a read that kept failing since).
    const stillReading = oldRuns.find((run) => run.conclusion === "failure")!;
    await db.pool.query(sql.unsafe`
      INSERT INTO failure_excerpts (job_id, build_id, repository_id, failed_at)
      SELECT j.id, j.build_id, b.repository_id, j.completed_at FROM build_jobs j JOIN builds b ON b.id = j.build_id
      WHERE j.id = ${stillReading.id * 10}`);
  });
  afterEach(() => db.drop());

  const retention = (options: { batchSize?: number; onDropped?: (kind: "run" | "job", n: number) => void } = {}) =>
    createPayloadRetention({ pool: db.pool, connectionUri: db.connectionUri, log: silent, now: () => NOW, days: 90, pauseMs: 0, batchSize: 5, ...options });

  it("drops the payloads of runs and jobs older than the window and changes nothing else", async () => {
    const everyTable = await tables(db.pool);
    const before = new Map<string, unknown>();
    for (const table of everyTable) before.set(table, await contents(db.pool, table, ["payload", "repository_private", "repository_default_branch"]));
    const figures = async () => ({
      usage: await getUsageGroups(db.pool, { since: new Date(NOW.getTime() - 365 * DAY), until: NOW }),
      workflows: await getWorkflowPeriods(db.pool, { days: 365, now: NOW }),
    });
    const figuresBefore = await figures();
    expect(figuresBefore.usage.some((group) => !group.private)).toBe(true);
    const dropped = { run: 0, job: 0 };

    const pass = await retention({ onDropped: (kind, n) => (dropped[kind] += n) }).runOnce();

    const stillReading = oldRuns.find((run) => run.conclusion === "failure")!;
    expect(pass).toMatchObject({ runs: oldRuns.length, jobs: 2 * oldRuns.length - 1 });
    expect(dropped).toEqual({ run: oldRuns.length, job: 2 * oldRuns.length - 1 });
    expect(await kept(db.pool)).toEqual([
      ...oldRuns.map((run) => ({ external_id: run.id, run: false, jobs: run === stillReading ? 1 : 0 })),
      ...newRuns.map((run) => ({ external_id: run.id, run: true, jobs: 2 })),
    ]);
    // Every other column of every table, and every row, as before.
    expect(await tables(db.pool)).toEqual(everyTable);
    for (const table of everyTable) {
      if (table === "payload_retention") continue;
      expect(await contents(db.pool, table, ["payload", "repository_private", "repository_default_branch"]), table).toEqual(before.get(table));
    }
    // What the pages read from payloads reads the same: public minutes, what is red now.
    expect(await figures()).toEqual(figuresBefore);

    // Once its log is read, the last failed job's payload goes at the next pass; nothing is walked twice.
    await db.pool.query(sql.unsafe`UPDATE failure_excerpts SET status = 'done'`);
    expect(await retention().runOnce()).toMatchObject({ runs: 0, jobs: 1 });
    // One empty batch on each walk: runs stored since, runs that left the window since.
    expect(await retention().runOnce()).toMatchObject({ runs: 0, jobs: 0, batches: 2 });
  });

  it("never waits for a row another transaction holds: it skips it, and a later pass drops it", async () => {
    await db.pool.query(sql.unsafe`UPDATE failure_excerpts SET status = 'done'`);
    const [heldRun, heldJobRun] = [oldRuns[3]!, oldRuns[7]!];
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM builds WHERE external_id = $1 FOR UPDATE", [heldRun.id]);
      await other.query("SELECT 1 FROM build_jobs WHERE id = $1 FOR UPDATE", [heldJobRun.id * 10 + 1]);
      // Batches of 5: the held rows' batches finish without them.
      const pass = await retention().runOnce();
      expect(pass.runs).toBe(oldRuns.length - 1);
      const rows = await kept(db.pool);
      expect(rows.find((row) => row.external_id === heldRun.id)).toEqual({ external_id: heldRun.id, run: true, jobs: 0 });
      expect(rows.find((row) => row.external_id === heldJobRun.id)).toMatchObject({ run: false, jobs: 1 });
    } finally {
      await other.query("ROLLBACK");
      await other.end();
    }
    expect(await retention().runOnce()).toMatchObject({ runs: 1, jobs: 1 });
    expect((await kept(db.pool)).filter((row) => oldRuns.some((run) => run.id === row.external_id) && (row.run || row.jobs > 0))).toEqual([]);
  });

  it("drops the payloads of old runs stored after a pass (a history import), without walking the old ones again", async () => {
    await retention().runOnce();
    const late = realisticRuns(new Date(NOW.getTime() - 300 * DAY), 3).map((run) => ({ ...run, id: run.id + 20_000, conclusion: "success" as const }));
    for (const run of late) await store(app, run);
    expect(await retention().runOnce()).toMatchObject({ runs: 3, jobs: 6 });
  });

  it("keeps a run whose payload was dropped where it is: an older snapshot or a redelivery changes nothing and alerts no one", async () => {
    const failed = oldRuns.find((run) => run.conclusion === "failure" && run.branch === "main")!;
    await retention().runOnce();
    const row = () => contents(db.pool, "builds");
    const before = { builds: await row(), jobs: await contents(db.pool, "build_jobs"), alerts: await contents(db.pool, "alerts") };

    // The same result again, its in-progress snapshot, its jobs again: all older or the same.
    await store(app, failed);
    expect((await deliver(app, { event: "workflow_run", payload: runPayload({ ...failed, status: "in_progress" }) })).status).toBe(200);
    expect((await deliver(app, { event: "workflow_run", payload: runPayload({ ...failed, status: "queued" }) })).status).toBe(200);

    expect(await row()).toEqual(before.builds);
    expect(await contents(db.pool, "build_jobs")).toEqual(before.jobs);
    expect(await contents(db.pool, "alerts")).toEqual(before.alerts);
  });

  it("shows a run whose payload was dropped: the build page, its payload note and the API", async () => {
    await retention().runOnce();
    const old = oldRuns.find((run) => run.conclusion === "failure")!;
    const id = await db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${old.id}`);

    const page = await app.request(`/builds/${id}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(old.workflow);
    expect(html).toContain("job 0");
    const note = await (await app.request(`/builds/${id}/payload`, { headers: { "hx-request": "true" } })).text();
    expect(note).toContain("The payload is no longer kept");
    expect(note).toContain("for 90 days");
    const api = await app.request(`/api/builds/${id}`);
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ id, external_id: String(old.id), status: "failed", jobs: [{}, {}] });
    expect((await app.request(`/builds?repository=${encodeURIComponent(old.repository)}`)).status).toBe(200);

    // A recent run still shows its payload.
    const recent = await db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${newRuns[0]!.id}`);
    expect(await (await app.request(`/builds/${recent}/payload`)).text()).toContain("head_sha");
  });

  it("counts what it dropped in runboard_payloads_dropped_total", async () => {
    const metrics = createRunboardMetrics({ pool: db.pool, now: () => NOW, version: "test" });
    try {
      await retention({ onDropped: (kind, n) => metrics.payloadsDropped(kind, n) }).runOnce();
      const text = await metrics.render();
      expect(text).toContain(`runboard_payloads_dropped_total{kind="run"} ${oldRuns.length}`);
      expect(text).toContain(`runboard_payloads_dropped_total{kind="job"} ${2 * oldRuns.length - 1}`);
    } finally {
      metrics.close();
    }
  });
});
