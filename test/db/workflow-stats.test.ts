import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERCENTILE_ERROR } from "../../src/domain/duration-histogram.js";
import { upsertSyncRepository } from "../../src/db/sync-repositories.js";
import { countFlakyRuns, getWorkflowDays, getWorkflowPeriods, workflowKey } from "../../src/db/workflow-stats.js";
import { createIngest } from "../../src/ingest.js";
import type { BuildRecord } from "../../src/domain/normalize.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-15T12:00:00Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000);

let nextId = 90_000;
function run(workflow: string, status: BuildRecord["status"], createdAt: Date, fields: Partial<BuildRecord> = {}): BuildRecord {
  const externalId = nextId++;
  return buildRecord({
    externalId,
    workflow,
    status,
    createdAt,
    finishedAt: status === "success" || status === "failed" ? new Date(createdAt.getTime() + 100_000) : null,
    payload: { id: externalId, repository: { default_branch: "main" } },
    ...fields,
  });
}

describe("getWorkflowPeriods", () => {
  let db: TestDatabase;
  const retried = run("CI", "success", daysAgo(2), { runAttempt: 2, commitSha: "c-retried" });

  beforeAll(async () => {
    db = await createTestDatabase();
    const runs = [
      // CI: the previous week all green and quick, this week slower, one failure on a branch, a flaky re-run.
      run("CI", "success", daysAgo(10), { finishedAt: new Date(daysAgo(10).getTime() + 60_000) }),
      run("CI", "success", daysAgo(9), { finishedAt: new Date(daysAgo(9).getTime() + 60_000) }),
      run("CI", "success", daysAgo(3)),
      run("CI", "failed", daysAgo(2.5), { branch: "feature/x" }),
      retried,
      run("CI", "cancelled", daysAgo(1)),
      // Deploy: its latest decided run on main failed (a later cancelled run does not count); red now.
      run("Deploy", "success", daysAgo(4)),
      run("Deploy", "failed", daysAgo(1)),
      run("Deploy", "cancelled", daysAgo(0.5)),
      // Lint: failed on main, but the default branch the poller stored is "trunk", where it passed.
      run("Lint", "failed", daysAgo(1), { repositoryId: 880_002, repository: "acme/lint" }),
      run("Lint", "success", daysAgo(2), { repositoryId: 880_002, repository: "acme/lint", branch: "trunk" }),
      // Edge: periods are whole UTC days (today and the 6 days before: from 2026-07-09 on), so a run
      // 6.7 days ago (2026-07-08 19:12) is in the previous week, one on 2026-07-09 01:00 in this one.
      run("Edge", "failed", new Date("2026-07-08T19:12:00Z")),
      run("Edge", "success", new Date("2026-07-09T01:00:00Z")),
      // Old: nothing this week, so not listed.
      run("Old", "failed", daysAgo(10)),
      // Another installation's workflow.
      run("Hidden", "failed", daysAgo(1), { installationId: 77 }),
    ];
    // Through the real ingest, oldest first, so branch states are kept as in production (as
    // history: no alert is queued).
    const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
    await ingest({ kind: "job", record: jobRecord({ id: 9_000_001, runId: retried.externalId, runAttempt: 1, status: "failed", commitSha: "c-retried" }) });
    for (const record of [...runs].sort((a, b) => a.createdAt!.getTime() - b.createdAt!.getTime())) {
      await ingest({ kind: "run", record, history: true });
    }
    await upsertSyncRepository(db.pool, { id: 880_002, installationId: 1, fullName: "acme/lint", defaultBranch: "trunk" });
  });
  afterAll(() => db.drop());

  it("counts each workflow's current and previous week and whether its default branch is red; the days of the workflows asked for", async () => {
    const rows = await getWorkflowPeriods(db.pool, { days: 7, now: NOW, installations: null });
    const byName = Object.fromEntries(rows.map((r) => [r.workflow, r]));
    expect(Object.keys(byName).sort()).toEqual(["CI", "Deploy", "Edge", "Hidden", "Lint"]);
    expect(byName.Edge).toMatchObject({ runs: 1, success: 1, failed: 0, previous_success: 0, previous_failed: 1 });
    expect(byName.CI).toMatchObject({
      repository: "acme/records",
      runs: 4,
      success: 2,
      failed: 1,
      previous_success: 2,
      previous_failed: 0,
      red_now: false,
    });
    // from duration buckets: within PERCENTILE_ERROR of the exact 100 s and 60 s
    expect(Math.abs(byName.CI!.p95! - 100)).toBeLessThanOrEqual(100 * PERCENTILE_ERROR);
    expect(Math.abs(byName.CI!.previous_p95! - 60)).toBeLessThanOrEqual(60 * PERCENTILE_ERROR);
    const days = await getWorkflowDays(db.pool, { workflows: [byName.CI!, byName.Deploy!], days: 7, now: NOW, installations: null });
    expect(days.get(workflowKey(byName.CI!))).toEqual([
      { day: "2026-07-05", success: 1, failed: 0 },
      { day: "2026-07-06", success: 1, failed: 0 },
      { day: "2026-07-12", success: 1, failed: 0 },
      { day: "2026-07-13", success: 1, failed: 1 },
    ]);
    expect(days.get(workflowKey(byName.Deploy!))).toEqual([
      { day: "2026-07-11", success: 1, failed: 0 },
      { day: "2026-07-14", success: 0, failed: 1 },
    ]);
    // Only the workflows asked for.
    expect([...days.keys()].sort()).toEqual([workflowKey(byName.CI!), workflowKey(byName.Deploy!)].sort());
    expect(byName.Deploy).toMatchObject({ runs: 3, success: 1, failed: 1, red_now: true });
    expect(byName.Lint).toMatchObject({ repository: "acme/lint", red_now: false });
  });

  it("counts the flaky runs of the workflows asked for", async () => {
    const flaky = await countFlakyRuns(db.pool, {
      workflows: [{ repository: "acme/records", workflow: "CI" }, { repository: "acme/records", workflow: "Deploy" }],
      since: daysAgo(7),
      now: NOW,
    });
    expect([...flaky]).toEqual([[workflowKey({ repository: "acme/records", workflow: "CI" }), 1]]);
  });

  it("reads only the installations asked for", async () => {
    const rows = await getWorkflowPeriods(db.pool, { days: 7, now: NOW, installations: [77] });
    expect(rows.map((r) => r.workflow)).toEqual(["Hidden"]);
    const everyWorkflow = await getWorkflowPeriods(db.pool, { days: 7, now: NOW, installations: null });
    const days = await getWorkflowDays(db.pool, { workflows: everyWorkflow, days: 7, now: NOW, installations: [77] });
    expect([...days.keys()]).toEqual([workflowKey(rows[0]!)]);
  });
});
