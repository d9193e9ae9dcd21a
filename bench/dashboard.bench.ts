/**
 * Dashboard at scale: the summary for 7, 30 and 90 days, the overview's figures and the workflow
 * page's figures, read from the rollups, each beside two baselines in the same run: the queries
 * of f341bec (before the rollups) on today's indexes, and the same queries over the raw table
 * (index scans turned off). Answers are compared: counts equal, percentiles within the stated
 * error. Then the builds list filtered by a rare value and a deep page, beside the list's SQL and
 * indexes before keyset pages (bench/build-lists.ts), and the overview's first load's weight
 * (gzip) beside htmx alone.
 *
 *   npx tsx bench/dashboard.bench.ts        (BUILDS=200000 for a quicker run; BUILDS=10000000 at scale)
 *   FIRST_LOAD_ONLY=1 BUILDS=20000 npx tsx bench/dashboard.bench.ts   (the first load's weight alone)
 *   LISTS_ONLY=1 npx tsx bench/dashboard.bench.ts   (the builds list's section alone)
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { gzipSync } from "node:zlib";
import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { getMetricsSummary } from "../src/db/build-metrics.js";
import { getDailyTrend } from "../src/db/build-trends.js";
import { createPool } from "../src/db/create-pool.js";
import { countFlakyRuns, getWorkflowDays, getWorkflowPeriods, getWorkflowStats, workflowKey } from "../src/db/workflow-stats.js";
import { PERCENTILE_ERROR } from "../src/domain/duration-histogram.js";
import { planWindow } from "../src/domain/rollup-window.js";
import { attentionPeriods, rankWorkflowAttention } from "../src/domain/workflow-attention.js";
import { createServer } from "../src/web/create-server.js";
import { benchBuildLists, markRareBuilds } from "./build-lists.js";
import { seedBuilds, seedRepositories } from "./seed-builds.js";
import { kb, ms, quietLog, table, time, withBenchDatabase } from "./support.js";
import { periodsThen, summaryThen, trendThen, workflowStatsThen } from "./today-queries.js";

const BUILDS = Number(process.env.BUILDS ?? 1_000_000);
const BATCH = 25_000;
/** Only the first load's weight: no timings, so it runs in seconds on a small seed. */
const FIRST_LOAD_ONLY = process.env.FIRST_LOAD_ONLY === "1";
/** Only the builds list's section (bench/build-lists.ts), without the rollups' reads above it. */
const LISTS_ONLY = process.env.LISTS_ONLY === "1";
/** The most the overview's first load may weigh, gzip-compressed: 50 KB. */
const FIRST_LOAD_BUDGET = 50_000;
const DAY = 86_400_000;

async function seed(pool: DatabasePool, now: Date) {
  await seedRepositories(pool);
  const started = performance.now();
  for (let from = 1; from <= BUILDS; from += BATCH) {
    const to = Math.min(BUILDS, from + BATCH - 1);
    // The builds list's section alone reads no rollups: they are left out of its seed.
    await seedBuilds(pool, { from, to, total: BUILDS, now, rollups: !LISTS_ONLY });
    process.stderr.write(`\rseeded ${to.toLocaleString("en")} builds in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  process.stderr.write("\n");
  // At 10,000,000 builds this outlasts the pool's statement time-out (60 s).
  await pool.connect(async (connection) => {
    await connection.query(sql.unsafe`SET statement_timeout = 0`);
    await connection.query(sql.unsafe`VACUUM ANALYZE builds`);
    if (!LISTS_ONLY) await connection.query(sql.unsafe`VACUUM ANALYZE build_rollups`);
    await connection.query(sql.unsafe`RESET statement_timeout`);
  });
}

function appOn(pool: DatabasePool, now: Date) {
  return createServer({
    pool,
    log: quietLog,
    baseUrl: "http://bench",
    webhookPath: "/api/github/webhooks",
    getProbot: () => null,
    now: () => now,
    live: null,
    syncStaleAfterMs: 600_000,
    alerts: { baseUrl: "http://bench", email: null, slack: null },
  });
}

const near = (ours: number | null, exact: number | null) =>
  ours === exact || (ours !== null && exact !== null && Math.abs(ours - exact) <= PERCENTILE_ERROR * Math.abs(exact) + 1e-9);

type Days = Array<{ day: string; success: number; failed: number }>;
const sameDays = (a: Days, b: Days) =>
  a.length === b.length && a.every((d, i) => d.day === b[i]!.day && d.success === b[i]!.success && d.failed === b[i]!.failed);

interface Case {
  label: string;
  ours: () => Promise<unknown>;
  /** f341bec's queries; `raw`: over the raw table, where flaky runs are left out (a scan per passed run). */
  then: (pool: DatabasePool, raw?: boolean) => Promise<unknown>;
  /** Whether ours answers as the baseline does (counts equal, percentiles within the error). */
  same: (ours: any, then: any) => boolean;
  /** Held to 10x faster than f341bec's queries. */
  tenfold: boolean;
}

async function main() {
  await withBenchDatabase("dashboard", async (uri) => {
    const pool = await createPool(uri, { maximumPoolSize: 4 });
    const naiveUri = new URL(uri);
    // Over the raw table at 10,000,000 builds a read outlasts the pool's statement time-out (60 s).
    naiveUri.searchParams.set("options", "-c enable_indexscan=off -c enable_bitmapscan=off -c enable_indexonlyscan=off");
    const naivePool = await createPool(naiveUri.toString(), { maximumPoolSize: 4, statementTimeout: "DISABLE_TIMEOUT" });
    try {
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const load = os.loadavg()[0]!;
      const t0 = performance.now();
      await seed(pool, now);
      const seedSeconds = (performance.now() - t0) / 1000;
      const app = appOn(pool, now);

      const since = (days: number) => planWindow(new Date(now.getTime() - days * DAY), null, now).counted.from;
      const summaryCase = (days: number): Case => ({
        label: `Summary, ${days} days`,
        ours: () => getMetricsSummary(pool, { days, now }),
        then: (p) => summaryThen(p, since(days)),
        same: (o, t) =>
          o.total_builds === t.total &&
          Object.entries(t.by_status ?? {}).every(([s, n]) => o.by_status[s] === n) &&
          Math.abs(o.avg_duration_seconds - t.avg) < 1e-6 &&
          near(o.p50_duration_seconds, t.p50) &&
          near(o.p95_duration_seconds, t.p95),
        tenfold: true,
      });
      const overviewFlaky = async (p: DatabasePool, periods: readonly Awaited<ReturnType<typeof getWorkflowPeriods>>[number][]) =>
        countFlakyRuns(p, { workflows: rankWorkflowAttention([...periods]).slice(0, 8), since: attentionPeriods(7, now).currentFrom, now });
      // "Needs attention" compares whole UTC days (attentionPeriods); the baselines are asked the same.
      const { currentFrom: current, previousFrom: previous } = attentionPeriods(7, now);
      const cases: Case[] = [
        summaryCase(7),
        summaryCase(30),
        summaryCase(90),
        {
          label: "Overview: summary, 14-day trend, Needs attention",
          // As the page reads it: the days of the 8 workflows it shows come after the ranking.
          ours: async () => {
            const [summary, trend, periods] = await Promise.all([
              getMetricsSummary(pool, { days: 7, now }),
              getDailyTrend(pool, { days: 14, now }),
              getWorkflowPeriods(pool, { days: 7, now }),
            ]);
            const shown = rankWorkflowAttention([...periods]).slice(0, 8);
            const days = await getWorkflowDays(pool, { workflows: shown, days: 7, now });
            return { summary, trend, periods, days, shown: new Set(shown.map(workflowKey)) };
          },
          then: async (p) => {
            const [summary, trend, periods] = await Promise.all([
              summaryThen(p, since(7)),
              trendThen(p, { days: 14, now }),
              periodsThen(p, { current, previous }),
            ]);
            return { summary, trend, periods };
          },
          same: (o, t) =>
            o.summary.total_builds === t.summary.total &&
            o.trend.every((d: any, i: number) => d.total === t.trend[i].total && d.success === t.trend[i].success && near(d.p95, t.trend[i].p95)) &&
            o.periods.length === t.periods.length &&
            o.periods.every((w: any, i: number) => {
              const x = t.periods[i];
              return w.repository === x.repository && w.runs === x.runs && w.success === x.success && w.failed === x.failed &&
                w.previous_success === x.previous_success && near(w.p95, x.p95) && near(w.previous_p95, x.previous_p95) &&
                (!o.shown.has(workflowKey(w)) || sameDays(o.days.get(workflowKey(w)) ?? [], x.days));
            }) &&
            o.shown.size === Math.min(8, o.periods.length),
          tenfold: true,
        },
        {
          label: "Workflow page: figures and 30-day trend of one workflow",
          ours: async () => {
            const filter = { repository: "acme/repo-7", workflow: "Deploy", days: 30, now };
            const [stats, trend] = await Promise.all([getWorkflowStats(pool, filter), getDailyTrend(pool, filter)]);
            return { stats, trend };
          },
          then: async (p, raw) => {
            const [stats, trend] = await Promise.all([
              workflowStatsThen(p, { repository: "acme/repo-7", workflow: "Deploy", since: since(30), flaky: !raw }),
              trendThen(p, { days: 30, now, repository: "acme/repo-7", workflow: "Deploy" }),
            ]);
            return { stats, trend };
          },
          same: (o, t) =>
            o.stats.total === t.stats.total && o.stats.flaky_runs === t.stats.flaky && near(o.stats.p50_duration_seconds, t.stats.p50) &&
            near(o.stats.p95_duration_seconds, t.stats.p95) &&
            o.trend.every((d: any, i: number) => d.total === t.trend[i].total && near(d.p50, t.trend[i].p50)),
          tenfold: false,
        },
      ];

      const rows: string[][] = [];
      const failures: string[] = [];
      const medians = new Map<string, number>();
      for (const c of FIRST_LOAD_ONLY || LISTS_ONLY ? [] : cases) {
        process.stderr.write(`${c.label}: answers\n`);
        const same = c.same(await c.ours(), await c.then(pool));
        process.stderr.write(`${c.label}: rollups\n`);
        const ours = await time(c.ours);
        process.stderr.write(`${c.label}: f341bec's queries\n`);
        const then = await time(() => c.then(pool), 5, 1);
        process.stderr.write(`${c.label}: over the raw table\n`);
        const raw = await time(() => c.then(naivePool, true), 3, 0);
        medians.set(c.label, ours.median);
        const vsThen = then.median / ours.median;
        const vsRaw = raw.median / ours.median;
        rows.push([
          c.label,
          `${ms(ours.median)} (p95 ${ms(ours.p95)})`,
          `${ms(then.median)} (${vsThen.toFixed(0)}×)`,
          `${ms(raw.median)} (${vsRaw.toFixed(0)}×)`,
          same ? "yes" : "**no**",
        ]);
        // Each row as it is measured, so a run cut short still tells what it measured.
        process.stderr.write(`${rows.at(-1)!.join(" | ")}\n`);
        if (!same) failures.push(`${c.label}: the answers differ`);
        if (vsRaw < 100) failures.push(`${c.label}: ${vsRaw.toFixed(0)}× the raw table, under 100×`);
        if (c.tenfold && vsThen < 10) failures.push(`${c.label}: ${vsThen.toFixed(1)}× f341bec's queries, under 10×`);
      }
      if (!FIRST_LOAD_ONLY && !LISTS_ONLY) {
        const ratio = medians.get("Summary, 90 days")! / medians.get("Summary, 7 days")!;
        if (ratio > 2) failures.push(`the 90-day summary costs ${ratio.toFixed(2)}× the 7-day one, over 2×`);
        // Not from the rollups, the same with or without them: the overview's flaky runs, on an index.
        const periods = await getWorkflowPeriods(pool, { days: 7, now });
        const flaky = await time(() => overviewFlaky(pool, periods));
        rows.push(["Overview's flaky runs of its 8 workflows (the builds, indexed; not a rollup)", `${ms(flaky.median)} (p95 ${ms(flaky.p95)})`, "", "", ""]);
        const page = await time(async () => (await app.request("/")).text());
        rows.push(["GET / (the whole overview page, for reference)", `${ms(page.median)} (p95 ${ms(page.p95)})`, "", "", ""]);
      }
      // After the rollups' reads: the rare values are written over a few builds (see markRareBuilds).
      const lists = FIRST_LOAD_ONLY ? "" : await markRareBuilds(pool).then(() => benchBuildLists(pool, BUILDS));
      const sizes = await pool.one(sql.type(z.object({ builds: z.number(), rollups: z.number(), rollup_rows: z.number() }))`
        SELECT pg_total_relation_size('builds')::float8 AS builds, pg_total_relation_size('build_rollups')::float8 AS rollups,
               (SELECT count(*)::int FROM build_rollups) AS rollup_rows`);

      const require = createRequire(import.meta.url);
      const html = await (await app.request("/")).text();
      const files = ["/assets/app.css", "/assets/htmx.js", "/assets/hx-sse.js", "/assets/favicon.svg"];
      let total = gzipSync(html).length;
      for (const file of files) total += gzipSync(await (await app.request(file)).text()).length;
      const htmxAlone = gzipSync(readFileSync(require.resolve("htmx.org/dist/htmx.min.js"))).length;

      const firstLoad = `First load of the overview, gzip-compressed (HTML, stylesheet, htmx, its SSE extension, icon):
**${kb(total)}** (${total.toLocaleString("en")} bytes; budget 50 KB), beside htmx alone: **${kb(htmxAlone)}** (${(total / htmxAlone).toFixed(2)}× htmx).`;
      if (FIRST_LOAD_ONLY) {
        console.log(firstLoad);
      } else {
        const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
        console.log(`## Dashboard at ${BUILDS.toLocaleString("en")} builds

Seeded in ${seedSeconds.toFixed(0)} s in bulk (bench/seed-builds.ts) (a year of history, 50 repositories of 5 workflows;
load average ${load.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end). Builds take ${mib(sizes.builds)}, the rollups
${mib(sizes.rollups)} (${sizes.rollup_rows.toLocaleString("en")} rows). Median of 15 reads (f341bec's queries: 5, over the raw
table: 3), each against a real PostgreSQL; the baselines count the same window (see domain/rollup-window.ts).
Flaky runs are read from the builds on an index (the overview's, timed on their own below; the workflow page's in
the first two columns) and left out over the raw table, where each passed run's look-up is a scan of its own.
Answers equal: counts the same, p50/p95 within ${(PERCENTILE_ERROR * 100).toFixed(2)}% of percentile_cont.

${table(["Read", "Rollups", "f341bec's queries, today's indexes", "Same queries over the raw table", "Answers equal"], rows)}

${LISTS_ONLY ? "" : failures.length ? `Missed: ${failures.join("; ")}.` : "Every target met: ≥ 100× the raw table, ≥ 10× f341bec's summaries and overview, the 90-day summary ≤ 2× the 7-day one."}

${firstLoad}

${lists}`);
      }
      if (failures.length) process.exitCode = 1;
      if (total > FIRST_LOAD_BUDGET) {
        process.exitCode = 1;
        console.error(`The overview's first load weighs ${total.toLocaleString("en")} bytes, over its budget of 50 KB.`);
      }
    } finally {
      await pool.end();
      await naivePool.end();
    }
  });
}

await main();
