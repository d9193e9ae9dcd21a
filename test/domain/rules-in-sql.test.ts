import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_CHANGED_CHANNEL } from "../../src/db/builds.js";
import { readMigrations, type MigrationFile } from "../../src/db/migrate.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { isNewerJob, isNewerRun } from "../../src/domain/newer.js";
import type { BuildRecord, JobRecord } from "../../src/domain/normalize.js";
import { isFinished, STATUSES, type Status } from "../../src/domain/status.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

// Migrations cannot import TypeScript: these tests hold the rules written twice, once in
// runboard_write_batch and once in src/, to the same answers.

const NOW = new Date("2026-07-01T12:00:00Z");
const at = (minute: number) => new Date(Date.UTC(2026, 6, 1, 10, minute));

/** The newest migration that (re)creates runboard_write_batch: the function the database runs. */
async function newestWriteBatch(): Promise<MigrationFile> {
  const defining = (await readMigrations()).filter((m) => /CREATE (OR REPLACE )?FUNCTION runboard_write_batch\b/.test(m.sql));
  expect(defining.length).toBeGreaterThan(0);
  return defining.at(-1)!;
}

/** The quoted values of an SQL `IN ('a', 'b')` list. */
function quotedList(list: string): string[] {
  return [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

describe("runboard_write_batch (the newest migration)", () => {
  it("notifies on the channel the live hub listens on", async () => {
    const migration = await newestWriteBatch();
    const channels = [...migration.sql.matchAll(/pg_notify\(\s*'([^']+)'/g)].map((m) => m[1]);
    expect(channels.length, migration.name).toBeGreaterThan(0);
    expect(new Set(channels), migration.name).toEqual(new Set([BUILD_CHANGED_CHANNEL]));
  });

  it("queues a check run for the statuses isFinished accepts", async () => {
    const migration = await newestWriteBatch();
    const checks = /\bchecks AS \(([\s\S]*?)\n\s{2}\),?\n/.exec(migration.sql)?.[1];
    expect(checks, `${migration.name} has no checks part`).toBeDefined();
    const lists = [...checks!.matchAll(/\bc\.status IN \(([^)]*)\)/g)].map((m) => quotedList(m[1]!));
    expect(lists, migration.name).toHaveLength(1);
    expect(lists[0]!.toSorted()).toEqual(STATUSES.filter(isFinished).toSorted());
  });
});

describe("isNewerRun and isNewerJob decide as the upserts do", () => {
  let db: TestDatabase;
  let nextId = 1;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  /** Whether the database's upsert lets `incoming` replace `stored` (the real function, one new run each). */
  async function upsertReplacesRun(incoming: Partial<BuildRecord> & { status: Status }, stored: Partial<BuildRecord> & { status: Status }) {
    const externalId = 50_000 + nextId++;
    const write = (record: BuildRecord) => writeBatch(db.pool, { deliveries: [], runs: [{ record, history: false }], jobs: [], now: NOW });
    const b = buildRecord({ ...stored, externalId });
    const a = buildRecord({ ...incoming, externalId });
    expect((await write(b)).changedRuns).toHaveLength(1);
    return { sql: (await write(a)).changedRuns.length === 1, ts: isNewerRun(a, b) };
  }

  async function upsertReplacesJob(incoming: Partial<JobRecord> & { status: Status }, stored: Partial<JobRecord> & { status: Status }) {
    const id = 5_000_000 + nextId;
    const runId = 60_000 + nextId++;
    const write = (record: JobRecord) => writeBatch(db.pool, { deliveries: [], runs: [], jobs: [record], now: NOW });
    const b = jobRecord({ ...stored, id, runId });
    const a = jobRecord({ ...incoming, id, runId });
    expect((await write(b)).changedJobs).toHaveLength(1);
    return { sql: (await write(a)).changedJobs.length === 1, ts: isNewerJob(a, b) };
  }

  type RunSide = Partial<BuildRecord> & { status: Status };
  const runCases: Array<[string, RunSide, RunSide, boolean]> = [
    ["a later attempt, even queued, over a finished one", { status: "queued", runAttempt: 2 }, { status: "success", runAttempt: 1 }, true],
    ["not an earlier attempt, even finished", { status: "success", runAttempt: 1 }, { status: "queued", runAttempt: 2 }, false],
    ["running over queued", { status: "running", updatedAt: at(1) }, { status: "queued", updatedAt: at(5) }, true],
    ["not running over finished", { status: "running", updatedAt: at(9) }, { status: "failed", updatedAt: at(5) }, false],
    ["a later snapshot of the same rank", { status: "failed", updatedAt: at(6) }, { status: "success", updatedAt: at(5) }, true],
    ["not an older snapshot of the same rank", { status: "success", updatedAt: at(4) }, { status: "failed", updatedAt: at(5) }, false],
    ["not the same snapshot again", { status: "success", updatedAt: at(5) }, { status: "success", updatedAt: at(5) }, false],
    ["a dated snapshot over an undated one", { status: "running", updatedAt: at(5) }, { status: "running", updatedAt: null }, true],
    ["not an undated snapshot over a dated one", { status: "running", updatedAt: null }, { status: "running", updatedAt: at(5) }, false],
  ];

  it.each(runCases)("run: %s", async (_name, incoming, stored, expected) => {
    expect(await upsertReplacesRun(incoming, stored)).toEqual({ sql: expected, ts: expected });
  });

  it("run: where neither snapshot has updated_at, the upsert takes the incoming one and isNewerRun keeps the first", async () => {
    // Not a case that real deliveries make (GitHub always sends updated_at); pinned so that a
    // change to either side is a decision, not an accident.
    expect(await upsertReplacesRun({ status: "running", updatedAt: null }, { status: "running", updatedAt: null })).toEqual({
      sql: true,
      ts: false,
    });
  });

  type JobSide = Partial<JobRecord> & { status: Status };
  const jobCases: Array<[string, JobSide, JobSide, boolean]> = [
    ["finished over running, with fewer steps done", { status: "success", progress: 0 }, { status: "running", progress: 3 }, true],
    ["not running over finished, with more steps done", { status: "running", progress: 9 }, { status: "failed", progress: 2 }, false],
    ["more steps done at the same rank", { status: "running", progress: 4 }, { status: "running", progress: 3 }, true],
    ["not the same progress again", { status: "running", progress: 3 }, { status: "running", progress: 3 }, false],
    ["not fewer steps done at the same rank", { status: "success", progress: 2 }, { status: "failed", progress: 3 }, false],
  ];

  it.each(jobCases)("job: %s", async (_name, incoming, stored, expected) => {
    expect(await upsertReplacesJob(incoming, stored)).toEqual({ sql: expected, ts: expected });
  });
});
