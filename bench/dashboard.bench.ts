/**
 * Dashboard at scale: the overview page and GET /api/metrics/summary over 1,000,000 builds,
 * beside the same SQL run over the raw table without its indexes (the naive plan), and the
 * first load's weight (gzip) beside htmx alone. Then the builds list filtered by a rare value
 * and a deep page, beside the list's SQL and indexes before keyset pages (bench/build-lists.ts).
 *
 *   npx tsx bench/dashboard.bench.ts        (BUILDS=200000 for a quicker run)
 *   FIRST_LOAD_ONLY=1 BUILDS=20000 npx tsx bench/dashboard.bench.ts   (the first load's weight alone)
 *   LISTS_ONLY=1 npx tsx bench/dashboard.bench.ts   (the builds list's section alone)
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { sql, type DatabasePool } from "slonik";
import { createPool } from "../src/db/create-pool.js";
import { createServer } from "../src/web/create-server.js";
import { insertBulkBuilds } from "../test/helpers/bulk-builds.js";
import { benchBuildLists } from "./build-lists.js";
import { kb, ms, quietLog, table, time, withBenchDatabase } from "./support.js";

const BUILDS = Number(process.env.BUILDS ?? 1_000_000);
const BATCH = 100_000;
/** Only the first load's weight: no timings, so it runs in seconds on a small seed. */
const FIRST_LOAD_ONLY = process.env.FIRST_LOAD_ONLY === "1";
/** Only the builds list's section (bench/build-lists.ts), without the raw-table baselines above it. */
const LISTS_ONLY = process.env.LISTS_ONLY === "1";
/** The most the overview's first load may weigh, gzip-compressed: 50 KB. */
const FIRST_LOAD_BUDGET = 50_000;

/** One build in this many has each rare value (50 of each at 1,000,000), spread through the year. */
const RARE_EVERY = 20_000;

async function seed(pool: DatabasePool) {
  for (let from = 1; from <= BUILDS; from += BATCH) {
    const to = Math.min(BUILDS, from + BATCH - 1);
    // A year of history, newest last; 50 repositories, 5 workflows, mostly main; ~80% green.
    await insertBulkBuilds(pool, { from, to, total: BUILDS, rareEvery: RARE_EVERY });
    process.stderr.write(`\rseeded ${to.toLocaleString("en")} builds`);
  }
  process.stderr.write("\n");
  await pool.query(sql.unsafe`VACUUM ANALYZE builds`);
}

function appOn(pool: DatabasePool) {
  return createServer({
    pool,
    log: quietLog,
    baseUrl: "http://bench",
    webhookPath: "/api/github/webhooks",
    getProbot: () => null,
    now: () => new Date(),
    live: null,
    syncStaleAfterMs: 600_000,
    alerts: { baseUrl: "http://bench", email: null, slack: null },
  });
}

async function main() {
  await withBenchDatabase("dashboard", async (uri) => {
    const pool = await createPool(uri, { maximumPoolSize: 4 });
    // The same queries, planned without indexes: what the SQL costs over the raw table.
    const naiveUri = new URL(uri);
    naiveUri.searchParams.set("options", "-c enable_indexscan=off -c enable_bitmapscan=off -c enable_indexonlyscan=off");
    const naivePool = await createPool(naiveUri.toString(), { maximumPoolSize: 4 });
    try {
      const t0 = performance.now();
      await seed(pool);
      const seedSeconds = (performance.now() - t0) / 1000;
      const app = appOn(pool);
      const naive = appOn(naivePool);
      const get = (server: ReturnType<typeof appOn>, path: string) => async () => {
        const response = await server.request(path);
        if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
        await response.text();
      };
      const rows: string[][] = [];
      for (const [label, path] of FIRST_LOAD_ONLY || LISTS_ONLY ? [] : ([
        ["GET /api/metrics/summary?days=7", "/api/metrics/summary?days=7"],
        ["GET / (overview page)", "/"],
        ["GET /builds (first page)", "/builds"],
      ] as const)) {
        const ours = await time(get(app, path));
        const raw = await time(get(naive, path), 5, 1);
        rows.push([label, `${ms(ours.median)} (p95 ${ms(ours.p95)})`, `${ms(raw.median)} (p95 ${ms(raw.p95)})`, `${(raw.median / ours.median).toFixed(0)}×`]);
      }

      const lists = FIRST_LOAD_ONLY ? "" : await benchBuildLists(pool, BUILDS);

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
        console.log(`## Dashboard at ${BUILDS.toLocaleString("en")} builds

Seeded in ${seedSeconds.toFixed(0)} s (a year of history, 50 repositories). Median of 15 requests through the
app (baseline: median of 5), each against a real PostgreSQL. The baseline runs the very same SQL with index
scans turned off, i.e. over the raw table, as a dashboard without its indexes would.

${table(["Request", "Runboard", "Same SQL over the raw table", "Speed-up"], rows)}

${firstLoad}

${lists}`);
      }
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
