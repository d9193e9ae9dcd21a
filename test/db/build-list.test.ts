import pg from "pg";
import { sql, type DatabasePool } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPool } from "../../src/db/create-pool.js";
import { listBuilds, type BuildFilters } from "../../src/db/builds.js";
import { writeBatch } from "../../src/db/write-batch.js";
import type { BuildCursor } from "../../src/domain/build-cursor.js";
import { buildRecord } from "../helpers/build-records.js";
import { insertBulkBuilds, RARE } from "../helpers/bulk-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-02T00:00:00Z");

/** Every build of a filter, page by page: by cursor, or by offset. */
async function walk(
  pool: DatabasePool,
  filters: BuildFilters,
  mode: "before" | "offset",
  limit: number,
  between: (page: number) => Promise<void> = async () => {},
): Promise<number[]> {
  const ids: number[] = [];
  let before: BuildCursor | undefined;
  for (let page = 0; page < 200; page++) {
    const result = await listBuilds(pool, filters, mode === "before" ? { limit, before } : { limit, offset: page * limit });
    ids.push(...result.builds.map((b) => b.id));
    if (mode === "before" ? result.next === null : result.builds.length < limit) return ids;
    if (mode === "before") before = result.next!;
    await between(page);
  }
  throw new Error("more than 200 pages");
}

describe("the builds list's keyset pages", () => {
  let db: TestDatabase;
  let nextRun = 1;
  const write = (records: ReturnType<typeof buildRecord>[]) =>
    writeBatch(db.pool, { deliveries: [], runs: records.map((record) => ({ record, history: false })), jobs: [], now: NOW });
  /** Builds at a few instants only (ties on created_at), on two branches, and three without a created_at. */
  const seed = async (at: (n: number) => Date | null, count: number) => {
    const records = Array.from({ length: count }, (_, n) =>
      buildRecord({ externalId: nextRun++, status: n % 3 === 0 ? "failed" : "success", branch: n % 2 ? "dev" : "main", createdAt: at(n) }),
    );
    await write(records);
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    nextRun = 1;
    await seed((n) => (n % 13 === 12 ? null : new Date(Date.UTC(2026, 6, 1, 10, n % 5))), 40);
  });
  afterEach(() => db.drop());

  it.each([
    { filters: {}, limit: 4 },
    { filters: {}, limit: 7 },
    { filters: { branch: "dev" }, limit: 3 },
    { filters: { status: "failed" }, limit: 5 },
  ])("equal the offset pages, ties on created_at and builds without one included ($filters, $limit a page)", async ({ filters, limit }) => {
    const all = (await listBuilds(db.pool, filters, { limit: 1000, offset: 0 })).builds.map((b) => b.id);
    expect(all.length).toBeGreaterThan(limit * 2);
    const byCursor = await walk(db.pool, filters, "before", limit);
    expect(byCursor).toEqual(all);
    expect(new Set(byCursor).size).toBe(byCursor.length);
    expect(await walk(db.pool, filters, "offset", limit)).toEqual(all);
  });

  it("neither repeat nor skip a build while newer ones arrive, where offset pages repeat", async () => {
    const all = (await listBuilds(db.pool, {}, { limit: 1000, offset: 0 })).builds.map((b) => b.id);
    // After each page, two newer builds and one at the newest instant already listed (a tie, with a higher id).
    const arrive = (minute: number) => seed((n) => (n === 0 ? new Date(Date.UTC(2026, 6, 1, 10, 4)) : new Date(Date.UTC(2026, 6, 1, 11, minute))), 3);
    expect(await walk(db.pool, {}, "before", 4, (page) => arrive(page))).toEqual(all);

    const seen = await walk(db.pool, {}, "offset", 4, (page) => arrive(30 + page));
    expect(new Set(seen).size).toBeLessThan(seen.length);
  });

  it("says no page follows the last one", async () => {
    const first = await listBuilds(db.pool, { branch: "main" }, { limit: 15 });
    const second = await listBuilds(db.pool, { branch: "main" }, { limit: 15, before: first.next! });
    expect(first.builds).toHaveLength(15);
    expect(first.next).not.toBeNull();
    expect(second.builds.length + first.builds.length).toBe(first.total);
    expect(second.next).toBeNull();
  });
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  "Shared Hit Blocks": number;
  "Shared Read Blocks": number;
  Plans?: PlanNode[];
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

describe("the builds list filtered by a rare value, on 20,000 builds", () => {
  const TOTAL = 20_000;
  /** Ten builds of each rare value. */
  const RARE_EVERY = 2_000;
  let db: TestDatabase;
  let explaining: DatabasePool;
  let statements: Array<{ sql: string; values: readonly unknown[] }> = [];
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    await insertBulkBuilds(db.pool, { from: 1, to: TOTAL, total: TOTAL, rareEvery: RARE_EVERY });
    await db.pool.query(sql.unsafe`VACUUM ANALYZE builds`);
    explaining = await createPool(db.connectionUri, {
      interceptors: [
        {
          name: "record-statements",
          beforeQueryExecution(_context, query) {
            statements.push({ sql: query.sql, values: query.values });
            return null;
          },
        },
      ],
    });
    client = new pg.Client({ connectionString: db.connectionUri });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await explaining.end();
    await db.drop();
  });

  /** The plans of the statements listBuilds runs for one page, as PostgreSQL ran them. */
  const plansOf = async (filters: BuildFilters, page: Parameters<typeof listBuilds>[2]) => {
    statements = [];
    const result = await listBuilds(explaining, filters, page);
    const plans: PlanNode[] = [];
    for (const statement of statements) {
      const { rows } = await client.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.sql}`,
        statement.values as unknown[],
      );
      plans.push(rows[0]!["QUERY PLAN"][0]!.Plan);
    }
    return { result, plans };
  };

  /**
   * What the plans read of builds: how (a sequential scan, or the indexes used), the rows looked
   * at (those the heap gave, kept or not), pages touched.
   */
  const costOf = (plans: PlanNode[]) => {
    const nodes = plans.flatMap(nodesOf);
    const onBuilds = nodes.filter((n) => n["Relation Name"] === "builds");
    return {
      scans: [...new Set(nodes.flatMap((n) => (n["Node Type"] === "Seq Scan" && n["Relation Name"] === "builds" ? ["Seq Scan"] : n["Index Name"]?.startsWith("builds_") ? [n["Index Name"]] : [])))].sort(),
      rowsExamined: onBuilds.reduce(
        (sum, n) => sum + (n["Actual Rows"] + (n["Rows Removed by Filter"] ?? 0) + (n["Rows Removed by Index Recheck"] ?? 0)) * n["Actual Loops"],
        0,
      ),
      blocks: plans.reduce((sum, p) => sum + p["Shared Hit Blocks"] + p["Shared Read Blocks"], 0),
    };
  };

  it.each([
    { filters: { branch: RARE.branch }, index: "builds_branch_created_idx" },
    { filters: { workflow: RARE.workflow }, index: "builds_workflow_created_idx" },
    { filters: { triggeredBy: RARE.actor }, index: "builds_actor_created_idx" },
    { filters: { branch: RARE.branch, status: "success", repository: "acme/repo-2" }, index: "builds_branch_created_idx" },
    { filters: { triggeredBy: RARE.actor, status: "failed" }, index: "builds_actor_created_idx" },
    // Queued builds are found through unfinished_builds (migrations/0030), each then by its id:
    // an index path and a heap page per build and statement (the table's 20,000 builds take ~500 pages).
    { filters: { status: RARE.status }, index: "builds_pkey", blocks: 100 },
    // With another filter too (the rare status is on acme/repo-5), rather than that filter's own index.
    { filters: { status: RARE.status, repository: "acme/repo-5" }, index: "builds_pkey", blocks: 100 },
  ])("reads its few builds through an index, not the history ($filters)", async ({ filters, index, blocks = 60 }) => {
    const { result, plans } = await plansOf(filters, { limit: 50, offset: 0, countLimit: 10_000 });
    const cost = costOf(plans);
    expect(result.builds.length).toBe(result.total);
    // Combined filters may intersect another index with it.
    expect(cost.scans).toContain(index);
    expect(cost.scans).not.toContain("Seq Scan");
    // Ten matching builds at most, each seen once by the list and once by the count.
    expect(cost.rowsExamined).toBeLessThanOrEqual(2 * (TOTAL / RARE_EVERY));
    expect(cost.blocks).toBeLessThan(blocks);
  });

  it("reads a deep page by cursor from the cursor on, where an offset reads every build it skips", async () => {
    const depth = 10_000;
    const atDepth = await listBuilds(db.pool, { branch: "main" }, { limit: 1, offset: depth - 1 });
    const byOffset = await plansOf({ branch: "main" }, { limit: 50, offset: depth });
    const byCursor = await plansOf({ branch: "main" }, { limit: 50, before: atDepth.next! });
    expect(byCursor.result.builds).toEqual(byOffset.result.builds);
    expect(byCursor.result.builds).toHaveLength(50);

    const [offsetList] = byOffset.plans;
    const [cursorList] = byCursor.plans;
    expect(costOf([offsetList!]).rowsExamined).toBeGreaterThan(depth);
    // main is three builds in four: walking the created_at index from the cursor is as good as its own.
    expect(costOf([cursorList!]).scans).not.toContain("Seq Scan");
    expect(costOf([cursorList!]).rowsExamined).toBeLessThan(2 * 51);
    expect(costOf([cursorList!]).blocks).toBeLessThan(60);
  });

  it("lists a common value and no filter at all through the created_at index, as before", async () => {
    const { plans } = await plansOf({}, { limit: 50, offset: 0, countLimit: 10_000 });
    const [list] = plans;
    expect(costOf([list!]).scans).toEqual(["builds_created_idx"]);
    expect(costOf([list!]).rowsExamined).toBeLessThanOrEqual(51);
  });

  // A run's status changes on nearly every write; with status in no index, those writes can be
  // HOT updates that touch no index at all (ingest measured 0.66 of its raw limit with one, 0.88 without).
  it("keeps status out of every index of builds, so a status change updates no index", async () => {
    const indexed = await db.pool.anyFirst(sql.type(z.object({ name: z.string() }))`
      SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'builds'::regclass
        AND (pg_get_indexdef(i.indexrelid) ~ '\\mstatus\\M' OR coalesce(pg_get_expr(i.indpred, i.indrelid), '') ~ '\\mstatus\\M')`);
    expect(indexed).toEqual([]);
    // Room on the newest build's page (a HOT update stays on its page), then change its status.
    const id = await db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT max(id) AS id FROM builds`);
    await db.pool.query(sql.unsafe`DELETE FROM builds WHERE id = ${id - 1}`);
    await db.pool.query(sql.unsafe`VACUUM builds`);
    const hotUpdates = await db.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`UPDATE builds SET status = 'cancelled', status_rank = 3, conclusion = 'cancelled' WHERE id = ${id}`);
      return tx.oneFirst(sql.type(z.object({ hot: z.number() }))`SELECT pg_stat_get_xact_tuples_hot_updated('builds'::regclass)::int AS hot`);
    });
    expect(hotUpdates).toBe(1);
  });

  it("counts matches exactly for the API", async () => {
    const { result } = await plansOf({ branch: RARE.branch }, { limit: 3, offset: 0 });
    const expected = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM builds WHERE branch = ${RARE.branch}`);
    expect(result.total).toBe(expected);
    expect(result.builds).toHaveLength(3);
  });
});
