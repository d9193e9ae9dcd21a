import { sql, type CommonQueryMethods } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { listBuilds } from "../../src/db/builds.js";
import { writeBatch } from "../../src/db/write-batch.js";
import type { Status } from "../../src/domain/status.js";
import { buildRecord } from "../helpers/build-records.js";
import { insertBulkBuilds } from "../helpers/bulk-builds.js";
import { stagedMigrations } from "../helpers/staged-migrations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-02T00:00:00Z");
const kept = z.object({ external_id: z.number(), run_attempt: z.number(), status: z.string() });

/** unfinished_builds (migrations/0030), by run. */
function unfinished(connection: CommonQueryMethods) {
  return connection.any(sql.type(kept)`
    SELECT b.external_id::int AS external_id, b.run_attempt, u.status
    FROM unfinished_builds u JOIN builds b ON b.id = u.build_id ORDER BY b.external_id`);
}

/** The same runs found by reading every build. */
function unfinishedInBuilds(connection: CommonQueryMethods) {
  return connection.any(sql.type(kept)`
    SELECT external_id::int AS external_id, run_attempt, status
    FROM builds WHERE status IN ('queued', 'running') ORDER BY external_id`);
}

describe("the unfinished builds", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.drop());

  const write = (...records: ReturnType<typeof buildRecord>[]) =>
    writeBatch(db.pool, { deliveries: [], runs: records.map((record) => ({ record, history: false })), jobs: [], now: NOW });
  const at = (minute: number) => new Date(Date.UTC(2026, 6, 1, 10, minute));
  const snapshot = (externalId: number, status: Status, minute: number, runAttempt = 1) =>
    buildRecord({ externalId, status, runAttempt, updatedAt: at(minute) });

  it("follow each run through the write path: queued, running, finished, late copies and re-runs", async () => {
    await write(snapshot(1, "queued", 1), snapshot(2, "running", 1), snapshot(3, "success", 1));
    expect(await unfinished(db.pool)).toEqual([
      { external_id: 1, run_attempt: 1, status: "queued" },
      { external_id: 2, run_attempt: 1, status: "running" },
    ]);

    await write(snapshot(1, "running", 2), snapshot(2, "failed", 2));
    expect(await unfinished(db.pool)).toEqual([{ external_id: 1, run_attempt: 1, status: "running" }]);

    // A late copy of an earlier state moves no run back, here or in builds.
    await write(snapshot(2, "running", 1), snapshot(1, "queued", 1), snapshot(3, "queued", 0));
    expect(await unfinished(db.pool)).toEqual([{ external_id: 1, run_attempt: 1, status: "running" }]);

    // A re-run of a finished run is unfinished again, until it finishes.
    await write(snapshot(1, "cancelled", 3), snapshot(2, "queued", 3, 2));
    expect(await unfinished(db.pool)).toEqual([{ external_id: 2, run_attempt: 2, status: "queued" }]);
    await write(snapshot(2, "success", 4, 2));
    expect(await unfinished(db.pool)).toEqual([]);
    expect(await unfinishedInBuilds(db.pool)).toEqual([]);
  });

  it("give the builds list the same queued and running builds as a read of every build", async () => {
    await insertBulkBuilds(db.pool, { from: 1, to: 3_000, total: 3_000, rareEvery: 100 });
    // Some of them finish, one of them only through a status write of its own.
    await db.pool.query(sql.unsafe`UPDATE builds SET status = 'success', status_rank = 3 WHERE status = 'queued' AND external_id % 300 = 4`);
    expect(await unfinished(db.pool)).toEqual(await unfinishedInBuilds(db.pool));
    const ids = z.object({ id: z.number() });
    for (const status of ["queued", "running"] as const) {
      const listed = await listBuilds(db.pool, { status }, { limit: 1000, offset: 0 });
      const expected = await db.pool.anyFirst(sql.type(ids)`
        SELECT id FROM builds WHERE status = ${status} ORDER BY created_at DESC NULLS LAST, id DESC`);
      expect(listed.builds.map((b) => b.id)).toEqual(expected);
      expect(listed.total).toBe(expected.length);
      expect(expected.length).toBeGreaterThan(5);
      // By cursor, three at a time.
      const byCursor: number[] = [];
      let page = await listBuilds(db.pool, { status }, { limit: 3, offset: 0 });
      byCursor.push(...page.builds.map((b) => b.id));
      while (page.next) {
        page = await listBuilds(db.pool, { status }, { limit: 3, before: page.next });
        byCursor.push(...page.builds.map((b) => b.id));
      }
      expect(byCursor).toEqual(expected);
      // With another filter: the newest one's branch (feature branches vary from build to build).
      const branch = listed.builds[0]!.branch!;
      const onBranch = await listBuilds(db.pool, { status, branch }, { limit: 1000, offset: 0 });
      const expectedOnBranch = await db.pool.anyFirst(sql.type(ids)`
        SELECT id FROM builds WHERE status = ${status} AND branch = ${branch} ORDER BY created_at DESC NULLS LAST, id DESC`);
      expect(onBranch.builds.map((b) => b.id)).toEqual(expectedOnBranch);
      expect(expectedOnBranch.length).toBeGreaterThan(0);
      expect(expectedOnBranch.length).toBeLessThan(expected.length);
    }
  });

  it("are found for the builds stored before the upgrade", async () => {
    const empty = await createTestDatabase({ empty: true });
    const migrations = await stagedMigrations(empty.connectionUri, "0030_unfinished_builds.sql");
    try {
      await insertBulkBuilds(empty.pool, { from: 1, to: 2_000, total: 2_000, rareEvery: 100 });
      await migrations.rest();
      const found = await unfinished(empty.pool);
      expect(found).toEqual(await unfinishedInBuilds(empty.pool));
      // 20 queued (one build in 100), the last 20 running.
      expect(found.length).toBe(40);
      // And kept from then on.
      await empty.pool.query(sql.unsafe`UPDATE builds SET status = 'failed', status_rank = 3 WHERE external_id = 2000`);
      expect((await unfinished(empty.pool)).length).toBe(39);
    } finally {
      await migrations.close();
      await empty.drop();
    }
  });
});
