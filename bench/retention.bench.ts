/**
 * Payload retention: bytes per run on disk with and without the raw payloads, on runs stored
 * by the real write path from `@octokit/webhooks-examples`-shaped deliveries (each run: queued,
 * in progress and completed snapshots, three jobs), measured after VACUUM FULL; and what a
 * retention pass costs: its batches, and a pass with nothing to do from where the last ended
 * beside one walking every old run from the oldest.
 *
 * RUNS=20000 npx tsx bench/retention.bench.ts
 */
import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { createPool } from "../src/db/create-pool.js";
import { normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord, type JobRecord } from "../src/domain/normalize.js";
import { createIngest } from "../src/ingest.js";
import { createPayloadRetention } from "../src/payload-retention.js";
import { realisticRuns, jobPayload, runPayload, type SeedRun } from "../test/helpers/seed-builds.js";
import { ms, quietLog, table, withBenchDatabase } from "./support.js";

const RUNS = Number(process.env.RUNS ?? 20_000);
const JOBS = 3;
const NOW = new Date("2026-06-10T12:00:00Z");

async function seed(pool: DatabasePool) {
  const ingest = createIngest({ pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
  // A year of runs, oldest first; ids unique across the year.
  const runs: SeedRun[] = realisticRuns(NOW, RUNS).map((run, i) => ({
    ...run,
    createdAt: new Date(NOW.getTime() - (RUNS - i) * ((365 * 86_400_000) / RUNS)),
  }));
  const record = (run: SeedRun) => {
    const p = runPayload(run);
    return normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) as BuildRecord;
  };
  const job = (run: SeedRun, index: number) => {
    const p = jobPayload(run, `job ${index}`, index);
    return normalizeWorkflowJob(p.workflow_job, { repository: p.repository }) as JobRecord;
  };
  for (let i = 0; i < runs.length; i += 50) {
    // 50 runs at a time, as concurrent deliveries: the group commit writes them together.
    await Promise.all(
      runs.slice(i, i + 50).map(async (run) => {
        await ingest({ kind: "run", record: record({ ...run, status: "queued" }) });
        await ingest({ kind: "run", record: record({ ...run, status: "in_progress" }) });
        for (let j = 0; j < JOBS; j++) await ingest({ kind: "job", record: job(run, j) });
        await ingest({ kind: "run", record: record(run) });
      }),
    );
    process.stderr.write(`\rseeded ${Math.min(i + 50, runs.length).toLocaleString("en")} runs`);
  }
  process.stderr.write("\n");
}

const sizes = z.object({ builds: z.number(), build_jobs: z.number(), run_payload: z.number(), job_payload: z.number(), runs: z.number() });
async function measure(pool: DatabasePool) {
  await pool.query(sql.unsafe`VACUUM FULL builds`);
  await pool.query(sql.unsafe`VACUUM FULL build_jobs`);
  return pool.one(sql.type(sizes)`
    SELECT pg_total_relation_size('builds')::float8 AS builds, pg_total_relation_size('build_jobs')::float8 AS build_jobs,
           (SELECT coalesce(avg(pg_column_size(payload)), 0) FROM builds)::float8 AS run_payload,
           (SELECT coalesce(avg(pg_column_size(payload)), 0) FROM build_jobs)::float8 AS job_payload,
           (SELECT count(*) FROM builds)::float8 AS runs`);
}

await withBenchDatabase("retention", async (connectionUri) => {
  const pool = await createPool(connectionUri);
  try {
    const t0 = performance.now();
    await seed(pool);
    const seedSeconds = (performance.now() - t0) / 1000;
    const before = await measure(pool);

    // Every run older than 90 days: about three quarters of the year.
    const batchTimes: number[] = [];
    const retention = (now: Date) =>
      createPayloadRetention({ pool, connectionUri, log: quietLog, now: () => now, days: 90, pauseMs: 0 });
    const timed = async (now: Date) => {
      const t = performance.now();
      const pass = await retention(now).runOnce();
      return { pass, ms: performance.now() - t };
    };
    const first = await timed(NOW);
    batchTimes.push(first.ms / first.pass.batches);
    // A day later: nothing new has left the window (runs are spread over the year, some have).
    const next = await timed(new Date(NOW.getTime() + 86_400_000));
    const again = await timed(new Date(NOW.getTime() + 86_400_000));
    // The same pass walking from the oldest run, as without a stored position.
    await pool.query(sql.unsafe`DELETE FROM payload_retention`);
    const fromOldest = await timed(new Date(NOW.getTime() + 86_400_000));
    // Then every run's payload, for the bytes of a run without one.
    const all = await timed(new Date(NOW.getTime() + 400 * 86_400_000));
    const after = await measure(pool);

    const perRun = (s: typeof before) => (s.builds + s.build_jobs) / s.runs;
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
    const share = 1 - (after.builds + after.build_jobs) / (before.builds + before.build_jobs);
    process.stdout.write(`## Payload retention (\`bench/retention.bench.ts\`)

${RUNS.toLocaleString("en")} runs over a year, each with ${JOBS} jobs, stored by the real write path from
webhooks-examples-shaped payloads (queued, in progress, completed), seeded in ${seedSeconds.toFixed(0)} s. Sizes after
\`VACUUM FULL\` (tables, TOAST and indexes), with every payload and with none (a last pass dropped the
${all.pass.runs.toLocaleString("en")} runs' payloads left after the passes below).

${table(
  ["", "with payloads (baseline)", "without"],
  [
    ["builds", kib(before.builds / before.runs) + " per run", kib(after.builds / after.runs) + " per run"],
    ["build_jobs", kib(before.build_jobs / before.runs) + " per run", kib(after.build_jobs / after.runs) + " per run"],
    ["total", kib(perRun(before)) + " per run", `${kib(perRun(after))} per run (${(share * 100).toFixed(0)}% less)`],
    ["a run's payload (pg_column_size, compressed)", kib(before.run_payload), "–"],
    ["a job's payload (pg_column_size, compressed)", kib(before.job_payload), "–"],
  ],
)}

${table(
  ["pass", "batches", "runs / jobs dropped", "time"],
  [
    ["first, at 90 days (250 runs a batch, no pause)", String(first.pass.batches), `${first.pass.runs} / ${first.pass.jobs}`, `${ms(first.ms)} (${ms(batchTimes[0]!)} a batch)`],
    ["a day later, from where the last ended", String(next.pass.batches), `${next.pass.runs} / ${next.pass.jobs}`, ms(next.ms)],
    ["again, nothing to do", String(again.pass.batches), `${again.pass.runs} / ${again.pass.jobs}`, ms(again.ms)],
    ["the same, walking from the oldest run (baseline)", String(fromOldest.pass.batches), `${fromOldest.pass.runs} / ${fromOldest.pass.jobs}`, ms(fromOldest.ms)],
  ],
)}
`);
  } finally {
    await pool.end();
  }
});
