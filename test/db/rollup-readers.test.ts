import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { getMetricsSummary } from "../../src/db/build-metrics.js";
import { getDailyTrend } from "../../src/db/build-trends.js";
import { foldRollups, pruneRollups } from "../../src/db/build-rollups.js";
import { getDigestCounts, getWorkflowCounts, getWorkflowDurations, listActiveRepositories } from "../../src/db/digest-figures.js";
import { getWorkflowDays, getWorkflowPeriods, getWorkflowStats } from "../../src/db/workflow-stats.js";
import { periodBefore } from "../../src/domain/digest-period.js";
import { PERCENTILE_ERROR } from "../../src/domain/duration-histogram.js";
import { countedWindow } from "../../src/domain/rollup-window.js";
import { normalizeWorkflowRun } from "../../src/domain/normalize.js";
import { createIngest, type IngestInput } from "../../src/ingest.js";
import { runPayload } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-09-20T15:37:12Z");
const HOUR = 3_600_000;

/** The answer of `read` from the rollups, and from the builds alone (as before the backfill is done). */
async function bothWays<T>(db: TestDatabase, read: () => Promise<T>): Promise<{ rollups: T; raw: T }> {
  const rollups = await read();
  await db.pool.query(sql.unsafe`UPDATE rollup_backfill SET finished_at = NULL`);
  try {
    return { rollups, raw: await read() };
  } finally {
    await db.pool.query(sql.unsafe`UPDATE rollup_backfill SET finished_at = now()`);
  }
}

describe("readers of the rollups", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 }});
    // 1,500 runs over 70 days, every 67 minutes (so at every minute of the hour over time), of 3
    // repositories and 2 workflows, in every state; some re-run.
    const inputs: IngestInput[] = [];
    for (let i = 0; i < 1_500; i++) {
      const createdAt = new Date(NOW.getTime() - 70 * 24 * HOUR + i * 67 * 60_000 + (i % 60) * 1_000);
      const states = ["success", "success", "success", "failure", "cancelled", null] as const;
      const conclusion = states[i % 6]!;
      const p = runPayload({
        id: 500_000 + i,
        repository: `acme/r-${i % 3}`,
        workflow: i % 2 ? "CI" : "Deploy",
        branch: i % 5 ? "main" : "feature/y",
        conclusion,
        status: conclusion === null ? "in_progress" : "completed",
        createdAt,
        seconds: Math.round(20 * 1.07 ** (i % 90)),
        actor: "a",
        message: "m",
        attempt: i % 11 === 0 ? 2 : 1,
      });
      inputs.push({ kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput);
    }
    // The first half folded into the rollups, the second left as deltas: readers add both.
    for (let i = 0; i < inputs.length; i += 100) {
      // Folded a few deltas at a time, as a backlog is.
      if (i === 800) while ((await foldRollups(db.pool, 7)) === 7);
      await Promise.all(inputs.slice(i, i + 100).map((input) => ingest(input)));
    }
  }, 120_000);
  afterAll(() => db.drop());

  it("give the summary the builds give, exactly within the hour horizon, from midnight UTC beyond it", async () => {
    const exact = z.object({ total: z.number(), p50: z.number().nullable(), p95: z.number().nullable(), avg: z.number().nullable() });
    for (const days of [1, 7, 14, 30, 60]) {
      const cases: Array<{ repository?: string; workflow?: string; installations?: number[] }> = [
        {}, { repository: "acme/r-1" }, { workflow: "CI" }, { repository: "acme/r-2", workflow: "Deploy" }, { installations: [] },
      ];
      for (const filters of cases) {
        const { rollups, raw } = await bothWays(db, () => getMetricsSummary(db.pool, { days, now: NOW, ...filters }));
        expect(rollups).toEqual(raw);
        const since = new Date(NOW.getTime() - days * 24 * HOUR);
        const from = days <= 15 ? since : new Date(Math.floor(since.getTime() / (24 * HOUR)) * 24 * HOUR);
        const repository = filters.repository ? sql.fragment`repository = ${filters.repository}` : sql.fragment`TRUE`;
        const workflow = filters.workflow ? sql.fragment`workflow = ${filters.workflow}` : sql.fragment`TRUE`;
        const scope = filters.installations ? sql.fragment`FALSE` : sql.fragment`TRUE`;
        const truth = await db.pool.one(sql.type(exact)`
          SELECT count(*)::int AS total,
                 (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE status IN ('success', 'failed')))::float8 AS p50,
                 (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE status IN ('success', 'failed')))::float8 AS p95,
                 (avg(duration_seconds) FILTER (WHERE status IN ('success', 'failed')))::float8 AS avg
          FROM builds WHERE created_at >= ${sql.timestamp(from)} AND ${repository} AND ${workflow} AND ${scope}`);
        expect(rollups.total_builds).toBe(truth.total);
        if (truth.total === 0) continue;
        expect(rollups.avg_duration_seconds!).toBeCloseTo(truth.avg!, 6);
        expect(Math.abs(rollups.p50_duration_seconds! - truth.p50!)).toBeLessThanOrEqual(truth.p50! * PERCENTILE_ERROR);
        expect(Math.abs(rollups.p95_duration_seconds! - truth.p95!)).toBeLessThanOrEqual(truth.p95! * PERCENTILE_ERROR);
      }
    }
  });

  it("give the daily trend, the workflow page's figures and the overview's periods the builds give", async () => {
    for (const filters of [{}, { repository: "acme/r-0", workflow: "CI" }]) {
      const trend = await bothWays(db, () => getDailyTrend(db.pool, { days: 30, now: NOW, ...filters }));
      expect(trend.rollups).toEqual(trend.raw);
      expect(trend.rollups.reduce((sum, d) => sum + d.total, 0)).toBeGreaterThan(0);
    }
    for (const days of [7, 30]) {
      const stats = await bothWays(db, () => getWorkflowStats(db.pool, { repository: "acme/r-1", workflow: "Deploy", days, now: NOW }));
      expect(stats.rollups).toEqual(stats.raw);
      expect(stats.rollups.total).toBeGreaterThan(0);
      const periods = await bothWays(db, () => getWorkflowPeriods(db.pool, { days, now: NOW }));
      expect(periods.rollups).toEqual(periods.raw);
      expect(periods.rollups.length).toBe(6);
      const workflowDays = await bothWays(db, () => getWorkflowDays(db.pool, { workflows: periods.raw, days, now: NOW }));
      expect(workflowDays.rollups).toEqual(workflowDays.raw);
      expect(workflowDays.rollups.size).toBeGreaterThan(0);
    }
  });

  it("give a digest's figures over a period that ends at any minute", async () => {
    for (const [start, end] of [
      [new Date(NOW.getTime() - 7 * 24 * HOUR), NOW],
      [new Date("2026-09-13T09:00:00Z"), new Date("2026-09-20T09:00:00Z")],
      [new Date("2026-09-20T14:58:00Z"), new Date("2026-09-20T14:59:00Z")],
      [new Date("2026-09-20T13:10:00Z"), new Date("2026-09-20T14:20:00Z")],
    ] as const) {
      const repositories = await bothWays(db, () => listActiveRepositories(db.pool, { start, end, now: NOW }));
      expect(repositories.rollups).toEqual(repositories.raw);
      const scope = { repositories: ["acme/r-0", "acme/r-1"], start, end, now: NOW };
      for (const read of [getDigestCounts, getWorkflowCounts, getWorkflowDurations] as const) {
        const figures = await bothWays(db, () => (read as (c: typeof db.pool, s: typeof scope) => Promise<unknown>)(db.pool, scope));
        expect(figures.rollups).toEqual(figures.raw);
      }
      const counted = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM builds WHERE repository IN ('acme/r-0', 'acme/r-1')
          AND created_at >= ${sql.timestamp(start)} AND created_at < ${sql.timestamp(end)}`);
      expect((await getDigestCounts(db.pool, scope)).total).toBe(counted);
    }
  });

  it("count a period and the one before it whole and without overlap, read late, after the hour rows of the older one are pruned", async () => {
    await pruneRollups(db.pool, NOW, 100_000);
    const DAY = 24 * HOUR;
    const repositories = ["acme/r-0", "acme/r-1", "acme/r-2"];
    // A 10-day digest read now, and a 20-day one: the period before begins past the hour horizon.
    for (const days of [10, 20]) {
      const current = { repositories, start: new Date(NOW.getTime() - days * DAY), end: NOW, now: NOW };
      const before = { ...current, ...periodBefore(current) };
      const exact = async (from: Date, to: Date) =>
        db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM builds WHERE created_at >= ${sql.timestamp(from)} AND created_at < ${sql.timestamp(to)}`);
      const window = countedWindow(before.start, before.end, NOW);
      expect((await getDigestCounts(db.pool, before)).total).toBe(await exact(window.from, window.to!));
      const both = (await getDigestCounts(db.pool, current)).total + (await getDigestCounts(db.pool, before)).total;
      expect(both).toBe(await exact(window.from, NOW));
    }
  });
});
