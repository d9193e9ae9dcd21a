import { sql, type CommonQueryMethods } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { seedBuilds, seededRun, seedRepositories } from "../../bench/seed-builds.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { storedRollups } from "../helpers/rollup-check.js";
import { foldRollups, pruneRollups } from "../../src/db/build-rollups.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-09-20T12:34:56.789Z");
// A small sample of a large seed: the last runs of 10,000,000, and a spread of older ones.
const TOTAL = 10_000_000;
const SAMPLES = [[1, 200], [5_000_000, 5_000_300], [9_999_700, 10_000_000]] as const;

const buildRow = z.record(z.string(), z.unknown());
function builds(connection: CommonQueryMethods) {
  return connection.any(sql.type(buildRow)`
    SELECT provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number, workflow_id,
           workflow, status, status_rank, raw_status, conclusion, branch, commit_sha, commit_message, triggered_by, event,
           url, created_at, updated_at, started_at, finished_at, duration_seconds, payload, on_default_branch
    FROM builds ORDER BY external_id`);
}

/** The unfinished builds (migrations/0030), by run. */
function unfinished(connection: CommonQueryMethods) {
  return connection.any(sql.type(buildRow)`
    SELECT b.external_id, u.status FROM unfinished_builds u JOIN builds b ON b.id = u.build_id ORDER BY b.external_id`);
}

describe("the dashboard benchmark's bulk seed", () => {
  let bulk: TestDatabase;
  let written: TestDatabase;
  beforeAll(async () => {
    [bulk, written] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    await Promise.all([seedRepositories(bulk.pool), seedRepositories(written.pool)]);
    for (const [from, to] of SAMPLES) {
      await seedBuilds(bulk.pool, { from, to, total: TOTAL, now: NOW });
      const runs: Array<{ record: ReturnType<typeof seededRun>; history: boolean }> = [];
      for (let i = from; i <= to; i++) runs.push({ record: seededRun(i, { total: TOTAL, now: NOW }), history: true });
      await written.pool.transaction((tx) => writeBatch(tx, { deliveries: [], runs, jobs: [], now: NOW }));
    }
  });
  afterAll(async () => {
    await Promise.all([bulk.drop(), written.drop()]);
  });

  it("gives the rows and rollups the write function gives for the same runs", async () => {
    const rows = await builds(bulk.pool);
    expect(rows.length).toBe(SAMPLES.reduce((n, [from, to]) => n + to - from + 1, 0));
    expect(rows).toEqual(await builds(written.pool));
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(["success", "failed", "cancelled", "skipped", "running"]));
    expect(new Set(rows.map((r) => r.on_default_branch))).toEqual(new Set([true, false]));
    expect(await unfinished(bulk.pool)).toEqual(await unfinished(written.pool));
    expect((await unfinished(bulk.pool)).length).toBe(20);
    // The write path's hour rows past the horizon are the rollup worker's to delete; the bulk path never writes them.
    await foldRollups(written.pool);
    await pruneRollups(written.pool, NOW, 1_000_000);
    const rollups = await storedRollups(bulk.pool);
    expect(rollups).toEqual(await storedRollups(written.pool));
    expect([...rollups.keys()].filter((key) => key.startsWith("hour|")).length).toBeGreaterThan(0);
  });
});
