import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getLabelQueue,
  getQueueByHour,
  getQueueByRunner,
  getQueueByWorkflow,
  getQueueTotal,
  getUsageGroups,
  getWaitingNow,
} from "../../src/db/job-metrics.js";
import { writeBatch } from "../../src/db/write-batch.js";
import type { BuildRecord, JobRecord } from "../../src/domain/normalize.js";
import { estimateUsage, roundedMinutes, totalUsage } from "../../src/domain/runner-minutes.js";
import type { Status } from "../../src/domain/status.js";
import { statusRank } from "../../src/domain/status.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-07-01T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
const WEEK = { since: new Date(NOW.getTime() - 7 * 86_400_000), until: NOW, now: NOW };

const PRIVATE = { repositoryId: 71, repository: "acme/private" };
const PUBLIC = { repositoryId: 72, repository: "acme/public" };
const UBUNTU = ["ubuntu-latest"];
const SELF_HOSTED = ["self-hosted", "linux"];

let nextJob = 1_000;

/** A job that was queued `startedMinutesAgo` + `queueSeconds` ago, waited `queueSeconds` and ran `runSeconds`. */
function ranJob(
  run: BuildRecord,
  fields: { queueSeconds: number; runSeconds: number | null; startedMinutesAgo: number; labels?: string[]; group?: string | null; status?: Status; name?: string },
): JobRecord {
  const started = minutesAgo(fields.startedMinutesAgo);
  const status = fields.status ?? "success";
  return jobRecord({
    id: nextJob++,
    runId: run.externalId,
    repositoryId: run.repositoryId,
    repository: run.repository,
    workflow: run.workflow,
    runAttempt: run.runAttempt,
    name: fields.name ?? "test",
    status,
    statusRank: statusRank(status),
    rawStatus: fields.runSeconds === null ? "in_progress" : "completed",
    runnerLabels: fields.labels ?? UBUNTU,
    runnerGroup: fields.group === undefined ? "GitHub Actions" : fields.group,
    queuedAt: new Date(started.getTime() - fields.queueSeconds * 1000),
    startedAt: started,
    completedAt: fields.runSeconds === null ? null : new Date(started.getTime() + fields.runSeconds * 1000),
  });
}

function run(externalId: number, fields: Partial<BuildRecord> & { status?: Status } = {}): BuildRecord {
  return buildRecord({ externalId, status: "success", workflow: "CI", createdAt: minutesAgo(600), ...PRIVATE, ...fields });
}

describe("queue time and estimated minutes on seeded jobs", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    const write = (runs: BuildRecord[], jobs: JobRecord[]) =>
      writeBatch(db.pool, { deliveries: [], runs: runs.map((record) => ({ record, history: false })), jobs, now: NOW });

    // The private repository's CI, on ubuntu-latest: queue times 10, 20, 30, 40, 100 s.
    const r1 = run(1);
    const r2 = run(2);
    await write(
      [r1, r2],
      [
        ranJob(r1, { queueSeconds: 10, runSeconds: 61, startedMinutesAgo: 300 }),
        ranJob(r1, { queueSeconds: 20, runSeconds: 60, startedMinutesAgo: 300, name: "lint" }),
        ranJob(r2, { queueSeconds: 30, runSeconds: 125, startedMinutesAgo: 200 }),
        ranJob(r2, { queueSeconds: 40, runSeconds: 30, startedMinutesAgo: 200, name: "lint" }),
        ranJob(r2, { queueSeconds: 100, runSeconds: 600, startedMinutesAgo: 200, name: "e2e" }),
        // Skipped: GitHub stamps it started, it never ran.
        ranJob(r2, { queueSeconds: 900, runSeconds: 0, startedMinutesAgo: 200, status: "skipped", name: "deploy" }),
      ],
    );
    // A re-run of run 2 (attempt 2): its job waited 60 s and ran 90 s, and counts as a job of its own.
    const r2again = run(2, { runAttempt: 2 });
    await write([r2again], [ranJob(r2again, { queueSeconds: 60, runSeconds: 90, startedMinutesAgo: 100 })]);
    // Cancelled: one after 45 s of running (it waited 50 s), one before it found a runner.
    const r3 = run(3, { status: "cancelled" });
    const unstarted = jobRecord({
      id: nextJob++, runId: 3, ...PRIVATE, status: "cancelled", statusRank: 3, runnerLabels: UBUNTU, queuedAt: minutesAgo(50), startedAt: null, completedAt: minutesAgo(40),
    });
    await write([r3], [ranJob(r3, { queueSeconds: 50, runSeconds: 45, startedMinutesAgo: 60, status: "cancelled" }), unstarted]);
    // Waited 50 minutes for an environment's approval: first seen `waiting`, then done.
    const r4 = run(4);
    const approval = ranJob(r4, { queueSeconds: 3000, runSeconds: 60, startedMinutesAgo: 30, name: "deploy" });
    await write([r4], [{ ...approval, status: "queued", statusRank: 1, rawStatus: "waiting", startedAt: null, completedAt: null }]);
    await write([], [approval]);
    // Started 30 hours ago and never heard of again: past the cut-off.
    const r5 = run(5, { status: "running", createdAt: minutesAgo(31 * 60) });
    await write([r5], [ranJob(r5, { queueSeconds: 7000, runSeconds: null, startedMinutesAgo: 30 * 60, status: "running" })]);
    // Windows and macOS in the private repository.
    const r6 = run(6, { workflow: "Release" });
    await write(
      [r6],
      [
        ranJob(r6, { queueSeconds: 5, runSeconds: 61, startedMinutesAgo: 90, labels: ["windows-latest"], name: "win" }),
        ranJob(r6, { queueSeconds: 5, runSeconds: 119, startedMinutesAgo: 90, labels: ["macos-14"], name: "mac" }),
      ],
    );
    // Self-hosted runners, by label and by a runner group of its own: queue 5 s and 15 s.
    const r7 = run(7);
    await write(
      [r7],
      [
        ranJob(r7, { queueSeconds: 5, runSeconds: 300, startedMinutesAgo: 80, labels: SELF_HOSTED, group: "Default", name: "self" }),
        ranJob(r7, { queueSeconds: 15, runSeconds: 120, startedMinutesAgo: 80, labels: ["gpu"], group: "my runner group", name: "gpu" }),
      ],
    );
    // The public repository: a standard runner (free) and a larger runner (billed).
    const r8 = run(8, { ...PUBLIC, payload: { id: 8, repository: { private: false } } });
    await write(
      [r8],
      [
        ranJob(r8, { queueSeconds: 1, runSeconds: 130, startedMinutesAgo: 70 }),
        ranJob(r8, { queueSeconds: 1, runSeconds: 70, startedMinutesAgo: 70, labels: ["ubuntu-22.04-16core"], group: "Larger runners", name: "big" }),
      ],
    );
    // Waiting now: one job 5 minutes into its wait; one left queued under a finished run (its
    // delivery never came); one waiting for an approval.
    const r9 = run(9, { status: "running" });
    const r10 = run(10);
    await write(
      [r9, r10],
      [
        jobRecord({ id: nextJob++, runId: 9, ...PRIVATE, status: "queued", rawStatus: "queued", runnerLabels: UBUNTU, queuedAt: minutesAgo(5) }),
        jobRecord({ id: nextJob++, runId: 9, ...PRIVATE, status: "queued", rawStatus: "waiting", runnerLabels: UBUNTU, queuedAt: minutesAgo(20) }),
        jobRecord({ id: nextJob++, runId: 10, ...PRIVATE, status: "queued", rawStatus: "queued", runnerLabels: UBUNTU, queuedAt: minutesAgo(9) }),
      ],
    );
  });
  afterAll(async () => {
    await db.drop();
  });

  it("computes p50/p95 per label set and runner group as by hand", async () => {
    const rows = await getQueueByRunner(db.pool, WEEK);
    const ubuntu = rows.find((r) => r.labels.join() === "ubuntu-latest" && r.runner_group === "GitHub Actions");
    // 10, 20, 30, 40, 50 (cancelled after running), 60 (re-run), 100 (public repo's 1 s is its own below)
    // plus the public repository's ubuntu job (1 s): 1, 10, 20, 30, 40, 50, 60, 100.
    // p50: between the 4th and 5th of 8: (30 + 40) / 2 = 35. p95: position 0.95 × 7 = 6.65, 60 + 0.65 × 40 = 86.
    expect(ubuntu).toMatchObject({ jobs: 8, p50_seconds: 35, max_seconds: 100 });
    expect(ubuntu!.p95_seconds).toBeCloseTo(86, 6);
    const selfHosted = rows.find((r) => r.labels.join() === "linux,self-hosted");
    expect(selfHosted).toMatchObject({ runner_group: "Default", jobs: 1, p50_seconds: 5, p95_seconds: 5 });
    expect(rows.find((r) => r.labels.join() === "gpu")).toMatchObject({ runner_group: "my runner group", jobs: 1, p50_seconds: 15 });
    // Nothing of the skipped job (900 s), the approval (3000 s) or the job past the cut-off (7000 s).
    expect(Math.max(...rows.map((r) => r.max_seconds))).toBe(100);
  });

  it("filters by repository and by exact label set", async () => {
    const pub = await getQueueByRunner(db.pool, { ...WEEK, repository: PUBLIC.repository });
    expect(pub.map((r) => [r.labels.join(), r.jobs])).toEqual([
      ["ubuntu-22.04-16core", 1],
      ["ubuntu-latest", 1],
    ]);
    const selfHosted = await getQueueTotal(db.pool, { ...WEEK, labels: ["self-hosted", "linux"] });
    expect(selfHosted).toMatchObject({ jobs: 1, p50_seconds: 5 });
    expect((await getQueueTotal(db.pool, { ...WEEK, labels: ["linux"] })).jobs).toBe(0);
  });

  it("computes p50/p95 per repository and workflow", async () => {
    const rows = await getQueueByWorkflow(db.pool, WEEK);
    const ci = rows.find((r) => r.repository === PRIVATE.repository && r.workflow === "CI")!;
    // 10, 20, 30, 40, 50, 60, 100 and the self-hosted 5 and 15: 5, 10, 15, 20, 30, 40, 50, 60, 100.
    // p50 = 30; p95: position 0.95 × 8 = 7.6, 60 + 0.6 × 40 = 84.
    expect(ci).toMatchObject({ jobs: 9, p50_seconds: 30 });
    expect(ci.p95_seconds).toBeCloseTo(84, 6);
    expect(rows.find((r) => r.workflow === "Release")).toMatchObject({ jobs: 2, p50_seconds: 5, p95_seconds: 5 });
  });

  it("counts jobs waiting for a runner now, not approvals nor jobs under finished runs", async () => {
    const waiting = await getWaitingNow(db.pool, { now: NOW });
    expect(waiting).toEqual([{ labels: ["ubuntu-latest"], jobs: 1, longest_seconds: 300 }]);
  });

  it("spreads queue time over the hours of the day", async () => {
    const hours = await getQueueByHour(db.pool, WEEK);
    expect(hours).toHaveLength(24);
    // 07:00 UTC: the two jobs of run 1, started 300 minutes before 12:00 (queue 10 s and 20 s).
    expect(hours[7]).toMatchObject({ hour: 7, jobs: 2, waited_seconds: 30 });
    expect(hours.reduce((sum, h) => sum + h.jobs, 0)).toBe(13);
  });

  it("gives the queue-time alert its p95 and the jobs over a threshold per label set", async () => {
    const rows = await getLabelQueue(db.pool, {
      since: minutesAgo(60 * 24),
      until: NOW,
      now: NOW,
      repositories: [PRIVATE.repository],
      overSeconds: 35,
    });
    const ubuntu = rows.find((r) => r.labels.join() === "ubuntu-latest")!;
    // 10, 20, 30, 40, 50, 60, 100: p95 position 5.7, 60 + 0.7 × 40 = 88; over 35 s: 40, 50, 60, 100.
    expect(ubuntu.jobs).toBe(7);
    expect(ubuntu.p95_seconds).toBeCloseTo(88, 6);
    expect(ubuntu.over).toBe(4);
  });

  it("estimates minutes per repository, workflow and month as by hand", async () => {
    const groups = await getUsageGroups(db.pool, WEEK);
    const usage = estimateUsage(groups, [{ pattern: "ubuntu-*-16core", multiplier: 8 }]);
    const ci = usage.find((u) => u.repository === PRIVATE.repository && u.workflow === "CI")!;
    // ubuntu: 61 s → 2, 60 → 1, 125 → 3, 30 → 1, 600 → 10, re-run 90 → 2, cancelled 45 → 1, approval job 60 → 1: 21 × 1.
    // Self-hosted 300 s → 5 and the gpu group's 120 s → 2, counted apart; the skipped job not at all.
    expect(ci).toMatchObject({ month: "2026-07", jobs: 10, minutes: 28, estimated_minutes: 21, self_hosted_minutes: 7, free_minutes: 0 });
    // Windows 61 s → 2 × 2 = 4; macOS 119 s → 2 × 10 = 20.
    expect(usage.find((u) => u.workflow === "Release")).toMatchObject({ jobs: 2, minutes: 4, estimated_minutes: 24, by_kind: { windows: 4, macos: 20 } });
    // Public: the standard runner's 130 s → 3 free; the larger runner's 70 s → 2 × 8 = 16 billed.
    expect(usage.find((u) => u.repository === PUBLIC.repository)).toMatchObject({ minutes: 5, estimated_minutes: 16, free_minutes: 3 });
    expect(totalUsage(usage)).toMatchObject({ estimated_minutes: 61, self_hosted_minutes: 7, free_minutes: 3 });
  });

  it("rounds each job up to the minute in SQL as roundedMinutes does", async () => {
    const seconds = [61, 60, 125, 30, 600, 90, 45, 60, 300, 120, 61, 119, 130, 70];
    const groups = await getUsageGroups(db.pool, WEEK);
    expect(groups.reduce((sum, g) => sum + g.minutes, 0)).toBe(seconds.reduce((sum, s) => sum + roundedMinutes(s), 0));
  });
});
