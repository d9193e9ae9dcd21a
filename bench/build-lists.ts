/**
 * The builds list at scale, for bench/dashboard.bench.ts: the builds page's two statements (a
 * page of 50 and the count up to 10,000) filtered by a rare branch, workflow, actor and status
 * (status has no index on builds, see migrations/0022; queued is read through unfinished_builds, 0030),
 * and a deep page by offset and by cursor; beside the same questions asked with the list's SQL
 * and indexes of before keyset pages (f341bec), in the same database and the same run: that
 * SQL is copied here, and the indexes of 0022 and 0028 are dropped for it inside a transaction that is
 * rolled back.
 */
import { sql, type CommonQueryMethods, type DatabasePool } from "slonik";
import { z } from "zod";
import { listBuilds, type BuildFilters } from "../src/db/builds.js";
import { RARE } from "../test/helpers/bulk-builds.js";
import { ms, table, time } from "./support.js";

const PAGE = 50;
const COUNT_LIMIT = 10_000;
/** Indexes made after f341bec that a list can walk: 0022's, and 0028's (which PostgreSQL 18 can skip-scan by workflow alone). */
const INDEXES_SINCE = ["builds_branch_created_idx", "builds_workflow_created_idx", "builds_actor_created_idx", "builds_repository_workflow_created_idx"];

/** The list's statements as f341bec ran them (src/db/builds.ts there), one after the other. */
async function listBuildsBefore(connection: CommonQueryMethods, filters: BuildFilters, page: { limit: number; offset: number; countLimit: number }) {
  const conditions = [sql.fragment`TRUE`];
  if (filters.status) conditions.push(sql.fragment`b.status = ${filters.status}`);
  if (filters.branch) conditions.push(sql.fragment`b.branch = ${filters.branch}`);
  if (filters.workflow) conditions.push(sql.fragment`b.workflow = ${filters.workflow}`);
  if (filters.triggeredBy) conditions.push(sql.fragment`b.triggered_by = ${filters.triggeredBy}`);
  const where = sql.join(conditions, sql.fragment` AND `);
  const builds = await connection.any(sql.unsafe`
    SELECT b.id, p.slug AS provider, b.external_id::text AS external_id, b.run_attempt, b.repository, b.workflow,
      b.status, b.conclusion, b.branch, b.commit_sha, b.commit_message, b.triggered_by, b.event, b.url,
      b.created_at, b.started_at, b.finished_at, b.duration_seconds
    FROM builds b JOIN providers p ON p.id = b.provider_id
    WHERE ${where}
    ORDER BY b.created_at DESC NULLS LAST, b.id DESC
    LIMIT ${page.limit} OFFSET ${page.offset}`);
  const total = await connection.oneFirst(sql.type(z.object({ total: z.number() }))`
    SELECT count(*)::int AS total FROM (SELECT 1 FROM builds b WHERE ${where} LIMIT ${page.countLimit}) matching`);
  return { ids: builds.map((b) => b.id as number), total };
}

interface Case {
  label: string;
  filters: BuildFilters;
  /** A deep page: the builds after this many. */
  depth?: number;
}

/**
 * Times each case both ways and returns the Markdown section. Each side runs on one connection
 * (the statements one after the other), and the answers of both sides are checked to be equal.
 */
export async function benchBuildLists(pool: DatabasePool, builds: number): Promise<string> {
  const depth = Math.floor(builds / 2);
  const cases: Case[] = [
    { label: `branch = ${RARE.branch}`, filters: { branch: RARE.branch } },
    { label: `workflow = ${RARE.workflow}`, filters: { workflow: RARE.workflow } },
    { label: `triggered_by = ${RARE.actor}`, filters: { triggeredBy: RARE.actor } },
    { label: `status = ${RARE.status} (through unfinished_builds)`, filters: { status: RARE.status } },
    { label: `triggered_by = ${RARE.actor}, status = failed`, filters: { triggeredBy: RARE.actor, status: "failed" } },
    { label: `no filter, after ${depth.toLocaleString("en")} builds`, filters: {}, depth },
    { label: `branch = main, after ${depth.toLocaleString("en")} builds`, filters: { branch: "main" }, depth },
  ];
  const rows: string[][] = [];
  for (const c of cases) {
    process.stderr.write(`Builds list, ${c.label}\n`);
    const offset = c.depth ?? 0;
    // The cursor of the deep page: the build at its depth, found by offset (at 10,000,000 builds
    // longer than the pool's statement time-out); the count is not needed.
    const before = c.depth
      ? await pool.connect(async (connection) => {
          await connection.query(sql.unsafe`SET statement_timeout = 0`);
          try {
            return (await listBuilds(connection, c.filters, { limit: 1, offset: c.depth! - 1, countLimit: 1 })).next!;
          } finally {
            await connection.query(sql.unsafe`RESET statement_timeout`);
          }
        })
      : undefined;
    let expected: { ids: number[]; total: number } | undefined;
    const runs = c.depth ? 5 : 15;
    const baseline = await pool
      .transaction(async (tx) => {
        await tx.query(sql.unsafe`DROP INDEX ${sql.join(INDEX_NAMES, sql.fragment`, `)}`);
        // Without the indexes a read at 10,000,000 builds outlasts the pool's statement time-out (60 s).
        await tx.query(sql.unsafe`SET LOCAL statement_timeout = 0`);
        expected = await listBuildsBefore(tx, c.filters, { limit: PAGE, offset, countLimit: COUNT_LIMIT });
        const timing = await time(() => listBuildsBefore(tx, c.filters, { limit: PAGE, offset, countLimit: COUNT_LIMIT }), runs, 1);
        throw new RolledBack(timing);
      })
      .catch((error: unknown) => {
        if (error instanceof RolledBack) return error.timing;
        throw error;
      });
    const ours = await pool.connect(async (connection) => {
      const page = { limit: PAGE, ...(before ? { before } : { offset }), countLimit: COUNT_LIMIT };
      const answer = await listBuilds(connection, c.filters, page);
      if (JSON.stringify(answer.builds.map((b) => b.id)) !== JSON.stringify(expected!.ids) || answer.total !== expected!.total) {
        throw new Error(`${c.label}: the two lists differ`);
      }
      return time(() => listBuilds(connection, c.filters, page), runs, 1);
    });
    rows.push([
      c.label,
      c.depth ? `\`before\`: ${ms(ours.median)} (p95 ${ms(ours.p95)})` : `${ms(ours.median)} (p95 ${ms(ours.p95)})`,
      c.depth ? `\`offset\`: ${ms(baseline.median)} (p95 ${ms(baseline.p95)})` : `${ms(baseline.median)} (p95 ${ms(baseline.p95)})`,
      `${(baseline.median / ours.median).toFixed(0)}×`,
    ]);
  }
  const rare = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM builds WHERE branch = ${RARE.branch}`);
  return `### The builds list at ${builds.toLocaleString("en")} builds

The builds page's statements (a page of ${PAGE}, newest first, and the count up to ${COUNT_LIMIT.toLocaleString("en")}), one after
the other on one connection, median of 15 (deep pages: of 5). Each rare value has ${rare} builds spread
over the year. Baseline: the list's SQL and indexes before keyset pages (f341bec), in the same database,
with the indexes of migrations 0022 and 0028 dropped in a transaction that is rolled back. Deep pages: the builds after the
first ${depth.toLocaleString("en")}, by cursor (\`before\`) beside by \`offset\`; both sides give the same builds.

${table(["Builds page", "Runboard", "Before keyset pages, 0022 and 0028", "Speed-up"], rows)}
`;
}

/** One build in this many has each rare value (50 of each at 1,000,000), spread through the year. */
const RARE_EVERY = 20_000;

/**
 * Gives one seeded build in {@link RARE_EVERY} each of {@link RARE}'s values, as
 * test/helpers/bulk-builds.ts seeds them: builds 1, 2, 3 and 4 of every 20,000 get the rare branch,
 * workflow, actor and status (queued, so unfinished). An UPDATE, so the rollup triggers follow it.
 */
export async function markRareBuilds(pool: DatabasePool): Promise<void> {
  await pool.connect(async (connection) => {
    await connection.query(sql.unsafe`SET statement_timeout = 0`);
    await connection.query(sql.unsafe`
      UPDATE builds SET
        branch = CASE WHEN external_id % ${RARE_EVERY} = 1 THEN ${RARE.branch} ELSE branch END,
        workflow = CASE WHEN external_id % ${RARE_EVERY} = 2 THEN ${RARE.workflow} ELSE workflow END,
        triggered_by = CASE WHEN external_id % ${RARE_EVERY} = 3 THEN ${RARE.actor} ELSE triggered_by END,
        status = CASE WHEN external_id % ${RARE_EVERY} = 4 THEN ${RARE.status} ELSE status END,
        status_rank = CASE WHEN external_id % ${RARE_EVERY} = 4 THEN 1 ELSE status_rank END,
        raw_status = CASE WHEN external_id % ${RARE_EVERY} = 4 THEN 'queued' ELSE raw_status END,
        conclusion = CASE WHEN external_id % ${RARE_EVERY} = 4 THEN NULL ELSE conclusion END,
        finished_at = CASE WHEN external_id % ${RARE_EVERY} = 4 THEN NULL ELSE finished_at END
      WHERE external_id % ${RARE_EVERY} BETWEEN 1 AND 4`);
    await connection.query(sql.unsafe`ANALYZE builds`);
    await connection.query(sql.unsafe`RESET statement_timeout`);
  });
}

const INDEX_NAMES = INDEXES_SINCE.map((name) => sql.identifier([name]));

/** Thrown to roll the baseline's transaction back, carrying its timing out. */
class RolledBack extends Error {
  constructor(readonly timing: { median: number; p95: number }) {
    super("rolled back");
  }
}
