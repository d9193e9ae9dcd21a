import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { getMetricsSummary } from "../../src/db/build-metrics.js";
import { getFlakiestWorkflows } from "../../src/db/channel-builds.js";
import { decidedRun, flakyRun } from "../../src/db/metric-sql.js";
import { countFlakyRuns, getWorkflowPeriods, getWorkflowStats, workflowKey } from "../../src/db/workflow-stats.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { flakyRate } from "../../src/domain/flaky-rate.js";
import type { BuildRecord, JobRecord } from "../../src/domain/normalize.js";
import { successRate } from "../../src/domain/success-rate.js";
import { attentionPeriods, rankWorkflowAttention, withFlakyRate } from "../../src/domain/workflow-attention.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-10T12:00:00Z");
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000);

interface Case {
  /** The workflow the case's runs belong to. */
  workflow: string;
  runs: BuildRecord[];
  jobs: JobRecord[];
  expected: { success: number; failed: number; decided: number; flaky: number };
}

let nextId = 70_000;
function run(workflow: string, status: BuildRecord["status"], fields: Partial<BuildRecord> = {}): BuildRecord {
  return buildRecord({ externalId: nextId++, workflow, status, createdAt: hoursAgo(48), ...fields });
}

const cases: Case[] = [
  (() => {
    // Every status once, plus both kinds of flaky run.
    const w = "every-status";
    const rerun = run(w, "success", { runAttempt: 2, commitSha: "c-rerun", createdAt: hoursAgo(40) });
    return {
      workflow: w,
      runs: [
        run(w, "success", { commitSha: "c-green" }),
        run(w, "failed", { commitSha: "c-retried", createdAt: hoursAgo(30) }),
        run(w, "success", { commitSha: "c-retried", createdAt: hoursAgo(29) }),
        rerun,
        run(w, "cancelled"),
        run(w, "skipped"),
        run(w, "running"),
        run(w, "queued"),
      ],
      jobs: [jobRecord({ id: 7_000_001, runId: rerun.externalId, workflow: w, runAttempt: 1, status: "failed" })],
      expected: { success: 3, failed: 1, decided: 4, flaky: 2 },
    };
  })(),
  {
    // Nothing ran its course: no rate at all.
    workflow: "undecided",
    runs: [run("undecided", "cancelled"), run("undecided", "skipped"), run("undecided", "running")],
    jobs: [],
    expected: { success: 0, failed: 0, decided: 0, flaky: 0 },
  },
  {
    // A failure after the green run of the same commit does not make it flaky.
    workflow: "failed-later",
    runs: [
      run("failed-later", "success", { commitSha: "c-later", createdAt: hoursAgo(20) }),
      run("failed-later", "failed", { commitSha: "c-later", createdAt: hoursAgo(19) }),
    ],
    jobs: [],
    expected: { success: 1, failed: 1, decided: 2, flaky: 0 },
  },
  {
    // Thirds: the same double whichever side divides.
    workflow: "thirds",
    runs: [run("thirds", "success"), run("thirds", "failed"), run("thirds", "failed")],
    jobs: [],
    expected: { success: 1, failed: 2, decided: 3, flaky: 0 },
  },
];

const countsRow = z.object({
  success: z.number(),
  failed: z.number(),
  decided: z.number(),
  flaky: z.number(),
  success_rate: z.number().nullable(),
  flaky_rate: z.number().nullable(),
});

describe("metric rules: SQL counts and TypeScript rates agree", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const c of cases) {
      await writeBatch(db.pool, { deliveries: [], runs: c.runs.map((record) => ({ record, history: false })), jobs: c.jobs, now: NOW });
    }
  });
  afterAll(async () => {
    await db.drop();
  });

  /** The counts with the shared fragments, and both rates worked out in SQL from them. */
  const inSql = (workflow: string) =>
    db.pool.one(sql.type(countsRow)`
      SELECT count(*) FILTER (WHERE w.status = 'success')::int AS success,
             count(*) FILTER (WHERE w.status = 'failed')::int AS failed,
             count(*) FILTER (WHERE ${decidedRun("w")})::int AS decided,
             count(*) FILTER (WHERE ${flakyRun("w")})::int AS flaky,
             (count(*) FILTER (WHERE w.status = 'success'))::float8 / nullif(count(*) FILTER (WHERE ${decidedRun("w")}), 0) AS success_rate,
             (count(*) FILTER (WHERE ${flakyRun("w")}))::float8 / nullif(count(*) FILTER (WHERE ${decidedRun("w")}), 0) AS flaky_rate
      FROM builds w WHERE w.workflow = ${workflow}`);

  it.each(cases.map((c) => [c.workflow, c] as const))("%s", async (workflow, c) => {
    const counts = await inSql(workflow);
    expect({ success: counts.success, failed: counts.failed, decided: counts.decided, flaky: counts.flaky }).toEqual(c.expected);
    // The runs SQL calls decided are the ones successRate divides by.
    expect(counts.decided).toBe(counts.success + counts.failed);
    expect(successRate(counts.success, counts.failed)).toBe(counts.success_rate);
    expect(flakyRate(counts.flaky, counts.decided)).toBe(counts.flaky_rate);

    const repository = c.runs[0]!.repository;
    const stats = await getWorkflowStats(db.pool, { repository, workflow, days: 7, now: NOW });
    expect(stats.success_rate).toBe(counts.success_rate);
    expect(stats.flaky_rate).toBe(counts.flaky_rate);
    expect(stats.flaky_runs).toBe(counts.flaky);

    const summary = await getMetricsSummary(db.pool, { days: 7, now: NOW, repository, workflow });
    expect(summary.success_rate).toBe(counts.success_rate);

    const periods = await getWorkflowPeriods(db.pool, { days: 7, now: NOW });
    const [ranked] = rankWorkflowAttention(periods.filter((p) => p.workflow === workflow));
    const flaky = await countFlakyRuns(db.pool, { workflows: [{ repository, workflow }], since: attentionPeriods(7, NOW).currentFrom, now: NOW });
    const attention = withFlakyRate(ranked!, flaky.get(workflowKey({ repository, workflow })) ?? 0);
    expect(attention.success_rate).toBe(counts.success_rate);
    expect(attention.flaky_rate).toBe(counts.flaky_rate);

    const flakiest = await getFlakiestWorkflows(db.pool, { repository, days: 7, now: NOW, limit: 100 });
    const listed = flakiest.find((f) => f.workflow === workflow);
    if (counts.flaky === 0) expect(listed).toBeUndefined();
    else expect(listed).toMatchObject({ decided: counts.decided, flaky: counts.flaky, flaky_rate: counts.flaky_rate });
  });
});
