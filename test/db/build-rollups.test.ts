import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord } from "../../src/domain/normalize.js";
import { durationBucket, histogramFrom, histogramFromPairs, histogramPercentile, PERCENTILE_ERROR } from "../../src/domain/duration-histogram.js";
import { foldRollups } from "../../src/db/build-rollups.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { upsertSyncRepository } from "../../src/db/sync-repositories.js";
import { createIngest, type Ingest, type IngestInput } from "../../src/ingest.js";
import { rollupDifferences } from "../helpers/rollup-check.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { clone, workflowExamples, type Example } from "../helpers/webhook-examples.js";

const count = z.object({ n: z.number() });

function toInput(example: Example): IngestInput | null {
  const p = example.payload;
  if (example.event === "workflow_run") {
    const record = normalizeWorkflowRun(p.workflow_run, { installation: p.installation, fallbackRepository: p.repository });
    return isUnusable(record) ? null : { kind: "run", record };
  }
  const record = normalizeWorkflowJob(p.workflow_job, { repository: p.repository, installation: p.installation });
  return isUnusable(record) ? null : { kind: "job", record };
}

/** A seeded shuffle, so a failing order can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  const random = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function countedRuns(db: TestDatabase): Promise<{ rolled: number; builds: number }> {
  await foldRollups(db.pool);
  const rolled = await db.pool.oneFirst(sql.type(count)`SELECT coalesce(sum(runs), 0)::int AS n FROM build_rollups WHERE repository <> '' AND grain = 'day'`);
  const builds = await db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM builds WHERE created_at IS NOT NULL`);
  return { rolled, builds };
}

describe("build rollups", () => {
  let db: TestDatabase;
  let ingest: Ingest;
  beforeEach(async () => {
    db = await createTestDatabase();
    ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => new Date("2026-09-02T00:00:00Z"), sendDelayMs: 0 } });
  });
  afterEach(() => db.drop());

  for (const order of ["in order", "in reverse"] as const) {
    it(`equal the builds after every webhook example is replayed ${order}`, async () => {
      const examples = workflowExamples();
      const inputs = (order === "in order" ? examples : [...examples].reverse()).map(toInput).filter((x) => x !== null);
      for (const input of inputs) await ingest(input);
      // The same examples again, all at once (one batch), then each run once more as a re-run.
      await Promise.all(inputs.map((input) => ingest(input)));
      for (const example of examples.filter((e) => e.event === "workflow_run")) {
        const rerun = clone(example);
        rerun.payload.workflow_run.run_attempt = (rerun.payload.workflow_run.run_attempt ?? 1) + 1;
        rerun.payload.workflow_run.status = "in_progress";
        rerun.payload.workflow_run.conclusion = null;
        await ingest(toInput(rerun)!);
      }
      expect(await rollupDifferences(db.pool)).toEqual([]);
      const { rolled, builds } = await countedRuns(db);
      expect(builds).toBeGreaterThan(0);
      expect(rolled).toBe(builds);
    });
  }

  it("count each run once, in its latest state, through re-runs, late and out-of-order events in concurrent batches", async () => {
    const base = new Date("2026-09-01T08:00:00Z");
    const inputs: IngestInput[] = [];
    for (let id = 1; id <= 60; id++) {
      const seed: SeedRun = {
        id: 7_000 + id,
        repository: `acme/repo-${id % 3}`,
        workflow: id % 2 ? "CI" : "Deploy",
        branch: id % 4 ? "main" : "feature/x",
        conclusion: id % 5 ? "success" : "failure",
        // some runs an hour apart, across midnight and a month's end
        createdAt: new Date(base.getTime() + (id - 30) * 40 * 60_000),
        seconds: 30 + id * 17,
        actor: "mona",
        message: `m${id}`,
      };
      const run = (over: Partial<SeedRun>) => {
        const p = runPayload({ ...seed, ...over });
        return { kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput;
      };
      const job = (over: Partial<SeedRun>, index: number) => {
        const p = jobPayload({ ...seed, ...over }, `job ${index}`, index);
        return { kind: "job", record: normalizeWorkflowJob(p.workflow_job, { repository: p.repository }) } as IngestInput;
      };
      inputs.push(job({}, 0), run({ status: "queued" }), run({ status: "in_progress" }), run({}));
      if (id % 3 === 0) {
        // re-run: a second attempt that ends the other way and takes longer
        const again = { attempt: 2, conclusion: seed.conclusion === "success" ? "failure" : "success", seconds: seed.seconds * 3 } as const;
        inputs.push(run({ ...again, status: "queued" }), run({ ...again, status: "in_progress" }), run(again), job(again, 1));
      }
      if (id % 7 === 0) inputs.push(run({ status: "in_progress" })); // late: the run finished long ago
    }
    await upsertSyncRepository(db.pool, { id: inputs[0]!.record.repositoryId, installationId: 1, fullName: "acme/repo-1", defaultBranch: "main" });
    for (const seed of [1, 2, 3]) {
      // batches of 20 at once (group commit writes them together), in a different order each round
      const order = shuffled(inputs, seed);
      for (let i = 0; i < order.length; i += 20) await Promise.all(order.slice(i, i + 20).map((input) => ingest(input)));
      expect(await rollupDifferences(db.pool)).toEqual([]);
    }
    const { rolled, builds } = await countedRuns(db);
    expect(builds).toBe(60);
    expect(rolled).toBe(60);
    await foldRollups(db.pool);
    const perStatus = await db.pool.any(sql.type(z.object({ status: z.string(), n: z.number() }))`
      SELECT status, sum(runs)::int AS n FROM build_rollups WHERE repository <> '' AND grain = 'month' GROUP BY status HAVING sum(runs) <> 0 ORDER BY status`);
    const raw = await db.pool.any(sql.type(z.object({ status: z.string(), n: z.number() }))`
      SELECT status, count(*)::int AS n FROM builds GROUP BY status ORDER BY status`);
    expect(perStatus).toEqual(raw);
  });

  it("let two writes of one installation's runs of the same hour go on together: neither waits on rollup rows the other holds", async () => {
    const record = (id: number) => {
      const p = runPayload({ id, repository: "acme/repo-a", workflow: "CI", branch: "main", conclusion: null, status: "in_progress", createdAt: new Date("2026-09-01T10:15:00Z"), seconds: 60, actor: "mona", message: "m" });
      return normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) as BuildRecord;
    };
    const now = new Date("2026-09-01T10:20:00Z");
    let written!: () => void;
    let release!: () => void;
    const firstWritten = new Promise<void>((resolve) => (written = resolve));
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = db.pool.transaction(async (tx) => {
      await writeBatch(tx, { deliveries: [], runs: [{ record: record(1), history: false }], jobs: [], now });
      written();
      await held;
    });
    await firstWritten;
    try {
      // The first write's transaction is still open: a second run of the same rollup rows is written at once.
      await db.pool.connect(async (connection) => {
        await connection.query(sql.unsafe`SET lock_timeout = '500ms'`);
        await writeBatch(connection, { deliveries: [], runs: [{ record: record(2), history: false }], jobs: [], now });
      });
    } finally {
      release();
      await first;
    }
    expect(await rollupDifferences(db.pool)).toEqual([]);
    expect(await countedRuns(db)).toEqual({ rolled: 2, builds: 2 });
  });

  it("keep a run on the default branch or off it as it was written, whatever the repository's default branch becomes", async () => {
    const seed: SeedRun = { id: 1, repository: "acme/repo-a", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date("2026-09-01T10:00:00Z"), seconds: 90, actor: "mona", message: "m" };
    const repositoryId = runPayload(seed).repository.id as number;
    await upsertSyncRepository(db.pool, { id: repositoryId, installationId: 1, fullName: "acme/repo-a", defaultBranch: "main" });
    const run = (over: Partial<SeedRun>) => {
      const p = runPayload({ ...seed, ...over });
      return { kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput;
    };
    await ingest(run({ status: "in_progress" }));
    await ingest(run({ id: 2, branch: "feature/y" }));
    const marks = () => db.pool.anyFirst(sql.type(z.object({ mark: z.boolean() }))`SELECT on_default_branch AS mark FROM builds ORDER BY external_id`);
    expect(await marks()).toEqual([true, false]);
    // The repository's default branch changes; the run's payload is dropped (retention): the mark stays.
    await upsertSyncRepository(db.pool, { id: repositoryId, installationId: 1, fullName: "acme/repo-a", defaultBranch: "trunk" });
    await db.pool.query(sql.unsafe`UPDATE builds SET payload = NULL WHERE external_id = 1`);
    expect(await marks()).toEqual([true, false]);
    expect(await rollupDifferences(db.pool)).toEqual([]);
    // Its next snapshot names the branch again: decided anew, and the run moves in the rollups.
    await ingest(run({}));
    expect(await marks()).toEqual([false, false]);
    expect(await rollupDifferences(db.pool)).toEqual([]);
  });

  it("place durations in the buckets domain/duration-histogram.ts reads, and give percentiles within the stated error", async () => {
    const durations = [0, 0.5, 1, 1.04, 1.0816, 2, 59, 60, 61, 3599, 3600, 86_399, 3_100_000, 10_000_000];
    const buckets = await db.pool.anyFirst(sql.type(z.object({ b: z.number() }))`
      SELECT runboard_duration_bucket(d) AS b FROM unnest(${sql.array(durations, "float8")}) WITH ORDINALITY AS u(d, i) ORDER BY i`);
    expect(buckets).toEqual(durations.map(durationBucket));

    // 2,000 runs with durations spread over 1 s to 6 h, a few of 0 s, through the write path.
    const records: IngestInput[] = [];
    for (let i = 0; i < 2_000; i++) {
      const seconds = i % 97 === 0 ? 0 : Math.round(Math.exp(((i * 7919) % 2000) / 2000 * Math.log(21_600)));
      const p = runPayload({ id: 100_000 + i, repository: `acme/p-${i % 4}`, workflow: "CI", branch: "main", conclusion: i % 6 ? "success" : "failure", createdAt: new Date(Date.UTC(2026, 8, 1 + (i % 20), i % 24)), seconds, actor: "a", message: "m" });
      records.push({ kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput);
    }
    for (let i = 0; i < records.length; i += 100) await Promise.all(records.slice(i, i + 100).map((r) => ingest(r)));
    await foldRollups(db.pool);

    const figures = z.object({
      histogram: z.record(z.string(), z.number()).nullable(),
      pairs: z.object({ buckets: z.array(z.number()).nullable(), runs: z.array(z.number()).nullable() }),
      p50: z.number().nullable(),
      p95: z.number().nullable(),
    });
    for (const repository of [null, "acme/p-1"]) {
      for (const [from, to] of [["2026-09-01", "2026-10-01"], ["2026-09-03", "2026-09-10"]] as const) {
        const where = repository === null ? sql.fragment`TRUE` : sql.fragment`repository = ${repository}`;
        const row = await db.pool.one(sql.type(figures)`
          SELECT
            (SELECT jsonb_object_agg(k, n) FROM (
               SELECT k, sum(u.n)::int AS n FROM build_rollups r, unnest(r.buckets, r.bucket_runs) AS u(k, n)
               WHERE r.grain = 'day' AND r.period_start >= ${from}::timestamptz AND r.period_start < ${to}::timestamptz
                 AND r.status IN ('success', 'failed') AND r.repository <> '' AND ${where}
               GROUP BY k) x) AS histogram,
            (SELECT jsonb_build_object('buckets', runboard_array_concat(r.buckets), 'runs', runboard_array_concat(r.bucket_runs))
             FROM build_rollups r
             WHERE r.grain = 'day' AND r.period_start >= ${from}::timestamptz AND r.period_start < ${to}::timestamptz
               AND r.status IN ('success', 'failed') AND r.repository <> '' AND ${where}) AS pairs,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds) FROM builds
             WHERE created_at >= ${from}::timestamptz AND created_at < ${to}::timestamptz AND ${where})::float8 AS p50,
            (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FROM builds
             WHERE created_at >= ${from}::timestamptz AND created_at < ${to}::timestamptz AND ${where})::float8 AS p95`);
        const histogram = histogramFrom(row.histogram);
        // The overview's way (db/workflow-stats.ts): the rows' pairs concatenated, summed here.
        expect(histogramFromPairs(row.pairs.buckets, row.pairs.runs)).toEqual(histogram);
        expect(row.p50).not.toBeNull();
        expect(Math.abs(histogramPercentile(histogram, 0.5)! - row.p50!)).toBeLessThanOrEqual(PERCENTILE_ERROR * row.p50! + 1e-9);
        expect(Math.abs(histogramPercentile(histogram, 0.95)! - row.p95!)).toBeLessThanOrEqual(PERCENTILE_ERROR * row.p95! + 1e-9);
      }
    }
    expect(await rollupDifferences(db.pool)).toEqual([]);
  });
});
