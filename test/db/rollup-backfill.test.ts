import pg from "pg";
import pino from "pino";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { backfillRollups, foldRollups, rollupsReady } from "../../src/db/build-rollups.js";
import { createPool } from "../../src/db/create-pool.js";
import { dropPayloadBatch } from "../../src/db/payload-retention.js";
import { normalizeWorkflowJob, normalizeWorkflowRun } from "../../src/domain/normalize.js";
import { createIngest, type Ingest, type IngestInput } from "../../src/ingest.js";
import { createRollupWorker } from "../../src/rollup-worker.js";
import { rollupDifferences, storedRollups } from "../helpers/rollup-check.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { stagedMigrations } from "../helpers/staged-migrations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const log = pino({ level: "silent" });
const NOW = new Date("2026-09-20T12:00:00Z");
const count = z.object({ n: z.number() });

function runs(first: number, howMany: number, over: Partial<SeedRun> = {}): IngestInput[] {
  const inputs: IngestInput[] = [];
  for (let id = first; id < first + howMany; id++) {
    const seed: SeedRun = {
      id, repository: `acme/b-${id % 4}`, workflow: id % 3 ? "CI" : "Release", branch: id % 5 ? "main" : "topic",
      conclusion: id % 4 ? "success" : "failure", createdAt: new Date(NOW.getTime() - id * 37 * 60_000), seconds: 40 + (id % 50) * 13,
      actor: "a", message: "m", ...over,
    };
    const p = runPayload(seed);
    inputs.push({ kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput);
    if (id % 6 === 0) {
      const j = jobPayload(seed, "build", 0);
      inputs.push({ kind: "job", record: normalizeWorkflowJob(j.workflow_job, { repository: j.repository }) } as IngestInput);
    }
  }
  return inputs;
}

async function write(ingest: Ingest, inputs: IngestInput[]) {
  for (let i = 0; i < inputs.length; i += 25) await Promise.all(inputs.slice(i, i + 25).map((input) => ingest(input)));
}

/**
 * A database upgraded as a running one is: the migrations before the rollups, builds written by
 * the write path of that schema (the older ones' payloads dropped by retention), then the
 * rollups' migration.
 */
async function upgradedDatabase(): Promise<{ db: TestDatabase; migrations: { close(): Promise<void> }; ingest: Ingest }> {
  const db = await createTestDatabase({ empty: true });
  const migrations = await stagedMigrations(db.connectionUri, "0024_build_rollups.sql");
  const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
  await write(ingest, runs(1, 300));
  // Retention has dropped the payloads of the older runs: the backfill reads their default branch
  // from what retention kept beside them.
  const dropped = await dropPayloadBatch(db.pool, { by: "created_at", before: new Date(NOW.getTime() - 100 * 37 * 60_000), after: null }, 1_000);
  expect(dropped.runs).toBeGreaterThan(150);
  await migrations.rest();
  return { db, migrations, ingest };
}

describe("the rollups' backfill", () => {
  let db: TestDatabase;
  let migrations: { close(): Promise<void> };
  let ingest: Ingest;
  beforeEach(async () => {
    ({ db, migrations, ingest } = await upgradedDatabase());
  });
  afterEach(async () => {
    await db.drop();
    await migrations.close();
  });

  it("counts the builds written before the rollups, as the live path counts them, while live writes go on", async () => {
    expect(await rollupsReady(db.pool)).toBe(false);
    expect(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM build_rollups`)).toBe(0);
    // Batches of 40 ids, with live writes between them: runs finishing (some below the backfill's
    // position, some above), re-runs, and new runs.
    let progress = await backfillRollups(db.pool, 40);
    await write(ingest, runs(1, 30, { attempt: 2, conclusion: "failure", seconds: 999 }));
    progress = await backfillRollups(db.pool, 40);
    await write(ingest, [...runs(250, 20, { attempt: 2, conclusion: "success" }), ...runs(1_000, 30)]);
    // A live write holds rows of the next batch while it runs: the batch waits, then passes them over.
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("UPDATE builds SET branch = branch WHERE id BETWEEN $1 AND $2", [progress.done_id + 1, progress.done_id + 5]);
      const waiting = backfillRollups(db.pool, 40);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query("COMMIT");
      progress = await waiting;
    } finally {
      await other.end();
    }
    while (!progress.finished) progress = await backfillRollups(db.pool, 40);
    expect(await rollupsReady(db.pool)).toBe(true);
    expect(await rollupDifferences(db.pool)).toEqual([]);
    await foldRollups(db.pool);
    const rolled = await db.pool.oneFirst(sql.type(count)`SELECT sum(runs)::int AS n FROM build_rollups WHERE repository <> '' AND grain = 'month'`);
    expect(rolled).toBe(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds`));

    // The same builds written into a database that had the rollups from the start: the same rollups.
    const live = await createTestDatabase();
    try {
      const liveIngest = createIngest({ pool: live.pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
      await write(liveIngest, runs(1, 300));
      await write(liveIngest, runs(1, 30, { attempt: 2, conclusion: "failure", seconds: 999 }));
      await write(liveIngest, [...runs(250, 20, { attempt: 2, conclusion: "success" }), ...runs(1_000, 30)]);
      expect(await storedRollups(db.pool)).toEqual(await storedRollups(live.pool));
    } finally {
      await live.drop();
    }
  });

  it("resumes where it was interrupted, in the app's worker", async () => {
    // Interrupted: a batch that fails (here, on a row another transaction holds past its lock
    // time-out) leaves no trace; the batches before it stay.
    await backfillRollups(db.pool, 50);
    await backfillRollups(db.pool, 50);
    const impatientUri = new URL(db.connectionUri);
    impatientUri.searchParams.set("options", "-c lock_timeout=100");
    const impatient = await createPool(impatientUri.toString());
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM builds WHERE id = 250 FOR UPDATE");
      await expect(backfillRollups(impatient, 10_000)).rejects.toThrow();
      await other.query("ROLLBACK");
    } finally {
      await other.end();
      await impatient.end();
    }
    const position = await db.pool.oneFirst(sql.type(z.object({ done_id: z.number() }))`SELECT done_id FROM rollup_backfill`);
    expect(position).toBe(100);
    await foldRollups(db.pool);
    const counted = await db.pool.oneFirst(sql.type(count)`SELECT coalesce(sum(runs), 0)::int AS n FROM build_rollups WHERE repository <> '' AND grain = 'day'`);
    expect(counted).toBe(await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds WHERE id <= 100`));
    // The app's worker (as at the next boot) goes on from there.
    const worker = createRollupWorker({ pool: db.pool, log, now: () => NOW, batch: 64 });
    await worker.runOnce();
    expect(await rollupsReady(db.pool)).toBe(true);
    expect(await rollupDifferences(db.pool)).toEqual([]);
  });
});
