import pg from "pg";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord, type JobRecord } from "../src/domain/normalize.js";
import { BUILD_CHANGED_CHANNEL, createIngest, type Ingest } from "../src/ingest.js";
import { createTestDatabase, type TestDatabase } from "./helpers/test-database.js";
import { jobPayload, runPayload, type SeedRun } from "./helpers/seed-builds.js";

const seed: SeedRun = { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date("2026-09-01T10:00:00Z"), seconds: 120, actor: "mona", message: "m" };

function run(over: Partial<SeedRun> = {}): BuildRecord {
  const p = runPayload({ ...seed, ...over });
  return normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) as BuildRecord;
}
function job(over: Partial<SeedRun> = {}, index = 0): JobRecord {
  const p = jobPayload({ ...seed, ...over }, `job ${index}`, index);
  return normalizeWorkflowJob(p.workflow_job, { repository: p.repository }) as JobRecord;
}

describe("ingest under concurrent load (batched writes)", () => {
  let db: TestDatabase;
  let ingest: Ingest;
  beforeEach(async () => {
    db = await createTestDatabase();
    ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => new Date(), sendDelayMs: 0 } });
  });
  afterEach(() => db.drop());

  it("gives each call the outcome it would have had alone", async () => {
    // The first two calls are written at once, one batch each; the rest arrive while they are and form one batch.
    const calls = [
      ingest({ kind: "run", record: run({ id: 50 }) }, { id: "d0", event: "workflow_run", action: "completed" }),
      ingest({ kind: "run", record: run({ id: 51 }) }, { id: "d0b", event: "workflow_run", action: "completed" }),
      ingest({ kind: "run", record: run({ status: "queued" }) }, { id: "d1", event: "workflow_run", action: "requested" }),
      ingest({ kind: "run", record: run() }, { id: "d2", event: "workflow_run", action: "completed" }),
      ingest({ kind: "run", record: run({ status: "in_progress" }) }, { id: "d3", event: "workflow_run", action: "in_progress" }),
      ingest({ kind: "run", record: run() }, { id: "d2", event: "workflow_run", action: "completed" }),
      ingest({ kind: "job", record: job({ id: 7 }) }, { id: "d4", event: "workflow_job", action: "completed" }),
      ingest({ kind: "job", record: job({ id: 7 }) }, { id: "d5", event: "workflow_job", action: "completed" }),
      ingest({ kind: "run", record: run({ id: 8 }) }),
    ];
    const results = await Promise.all(calls);
    expect(results.map((r) => r.outcome)).toEqual([
      "changed", "changed", "unchanged", "changed", "unchanged", "duplicate", "changed", "unchanged", "changed",
    ]);
    const builds = await db.pool.any(sql.type(z.object({ external_id: z.number(), status: z.string() }))`
      SELECT external_id, status FROM builds ORDER BY external_id`);
    expect(builds).toEqual([
      { external_id: 1, status: "success" },
      { external_id: 7, status: "queued" },
      { external_id: 8, status: "success" },
      { external_id: 50, status: "success" },
      { external_id: 51, status: "success" },
    ]);
    expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM deliveries`)).toBe(7);
    expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM build_jobs`)).toBe(1);
  });

  it("tells live pages of each changed build once its write has committed, and of nothing unchanged", async () => {
    const listener = new pg.Client({ connectionString: db.connectionUri });
    await listener.connect();
    const heard: Array<{ id: number; visible: boolean }> = [];
    const checks: Promise<void>[] = [];
    listener.on("notification", (message) => {
      const id = Number(message.payload);
      // Another connection sees the build when its notification arrives.
      checks.push(
        db.pool
          .exists(sql.unsafe`SELECT 1 FROM builds WHERE id = ${id}`)
          .then((visible) => void heard.push({ id, visible })),
      );
    });
    try {
      await listener.query(`LISTEN ${BUILD_CHANGED_CHANNEL}`);
      const first = await Promise.all([
        ingest({ kind: "run", record: run({ id: 60 }) }, { id: "n1", event: "workflow_run", action: "completed" }),
        ingest({ kind: "run", record: run({ id: 61 }) }, { id: "n2", event: "workflow_run", action: "completed" }),
        ingest({ kind: "job", record: job({ id: 62 }) }, { id: "n3", event: "workflow_job", action: "completed" }),
      ]);
      // The same again: nothing changes, nothing is told.
      const again = await ingest({ kind: "run", record: run({ id: 60 }) }, { id: "n4", event: "workflow_run", action: "completed" });
      expect(again.outcome).toBe("unchanged");
      const ids = first.map((r) => r.buildId!);
      await expect.poll(() => heard.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await Promise.all(checks);
      expect(heard.map((h) => h.id).toSorted()).toEqual(ids.toSorted());
      expect(heard.every((h) => h.visible)).toBe(true);
    } finally {
      await listener.end();
    }
  });

  it("fails only the bad event of a batch; the others are stored", async () => {
    const bad = { ...run({ id: 3 }), status: "exploded" } as unknown as BuildRecord;
    const results = await Promise.allSettled([
      ingest({ kind: "run", record: run({ id: 1 }) }),
      ingest({ kind: "run", record: run({ id: 2 }) }, { id: "ok-2", event: "workflow_run", action: "completed" }),
      ingest({ kind: "run", record: bad }, { id: "bad-3", event: "workflow_run", action: "completed" }),
      ingest({ kind: "run", record: run({ id: 4 }) }, { id: "ok-4", event: "workflow_run", action: "completed" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const ids = await db.pool.anyFirst(sql.type(z.object({ id: z.number() }))`SELECT external_id AS id FROM builds ORDER BY 1`);
    expect(ids).toEqual([1, 2, 4]);
    // The bad event's delivery was not recorded: GitHub's redelivery can still store it.
    const deliveries = await db.pool.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM deliveries ORDER BY 1`);
    expect(deliveries).toEqual(["ok-2", "ok-4"]);
  });

  it("links a job to a run row another writer commits while the job's statement runs", async () => {
    // Another replica holds a new row for run 77, not yet committed.
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query(
        `INSERT INTO builds (provider_id, repository_id, repository, external_id, run_attempt, workflow, status, status_rank)
         VALUES (1, $1, 'acme/api', 77, 1, 'CI', 'running', 2)`,
        [job({ id: 77 }).repositoryId],
      );
      // The job's statement starts now (its snapshot cannot see the row), then waits on that row.
      const stored = ingest({ kind: "job", record: job({ id: 77 }) }, { id: "j77", event: "workflow_job", action: "completed" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query("COMMIT");
      expect(await stored).toMatchObject({ outcome: "changed" });
    } finally {
      await other.end();
    }
    const linked = await db.pool.any(sql.type(z.object({ external_id: z.number(), jobs: z.number() }))`
      SELECT b.external_id, count(j.id)::int AS jobs FROM builds b LEFT JOIN build_jobs j ON j.build_id = b.id GROUP BY b.external_id`);
    expect(linked).toEqual([{ external_id: 77, jobs: 1 }]);
  });

  it("never moves a finished run back once its payload is dropped; a placeholder still takes the run's snapshot", async () => {
    const alerting = { email: { to: ["team@example.com"] }, slack: null, now: () => new Date(), sendDelayMs: 0 };
    const replica = createIngest({ pool: db.pool, alerting });
    // A job arrives first: its run is a placeholder until the run's own snapshot comes.
    await replica({ kind: "job", record: job({ id: 30 }) }, { id: "j30", event: "workflow_job", action: "completed" });
    const failed = run({ id: 30, conclusion: "failure" });
    expect(await replica({ kind: "run", record: failed }, { id: "r30", event: "workflow_run", action: "completed" })).toMatchObject({ outcome: "changed" });
    const rows = () => db.pool.any(sql.type(z.object({ status: z.string(), placeholder: z.boolean(), updated_at: z.number() }))`
      SELECT status, placeholder, extract(epoch FROM updated_at)::int AS updated_at FROM builds WHERE external_id = 30`);
    const before = await rows();
    expect(before).toMatchObject([{ status: "failed", placeholder: false }]);
    const alertCount = () => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM alerts`);
    const alertsBefore = await alertCount();

    // Payload retention drops the payload; then an older snapshot of the same result is delivered again.
    await db.pool.query(sql.unsafe`UPDATE builds SET payload = NULL WHERE external_id = 30`);
    const older = { ...failed, updatedAt: new Date(failed.updatedAt!.getTime() - 60_000) };
    expect(await replica({ kind: "run", record: older }, { id: "r30-again", event: "workflow_run", action: "completed" })).toMatchObject({
      outcome: "unchanged",
    });
    expect(await rows()).toEqual(before);
    expect(await alertCount()).toBe(alertsBefore);
    const state = await db.pool.one(sql.type(z.object({ failed_runs: z.number() }))`SELECT failed_runs FROM branch_states`);
    expect(state.failed_runs).toBe(1);
  });

  it("stores a job of a run another batch is updating without waiting on that run", async () => {
    await ingest({ kind: "run", record: run({ id: 40, status: "in_progress" }) }, { id: "r40", event: "workflow_run", action: "in_progress" });
    // Another batch (a second lane, or a replica) is updating run 40 and has not committed yet.
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("UPDATE builds SET status = 'success', status_rank = 4 WHERE external_id = 40");
      // The job's run row is there: the job is linked to it, with no placeholder insert to wait on the held row.
      const stored = await ingest({ kind: "job", record: job({ id: 40 }) }, { id: "j40", event: "workflow_job", action: "completed" });
      expect(stored).toMatchObject({ outcome: "changed" });
      await other.query("COMMIT");
    } finally {
      await other.end();
    }
    const linked = await db.pool.any(sql.type(z.object({ external_id: z.number(), jobs: z.number() }))`
      SELECT b.external_id, count(j.id)::int AS jobs FROM builds b LEFT JOIN build_jobs j ON j.build_id = b.id GROUP BY b.external_id`);
    expect(linked).toEqual([{ external_id: 40, jobs: 1 }]);
  });

  it("decides two failures of one branch on two replicas one after the other: one broken alert", async () => {
    const alerting = { email: { to: ["team@example.com"] }, slack: null, now: () => new Date(), sendDelayMs: 0 };
    const replicas = [createIngest({ pool: db.pool, alerting }), createIngest({ pool: db.pool, alerting })];
    const first = run({ id: 1, conclusion: "failure" });
    // The branch's advisory lock key, as runboard_queue_alerts builds it (migrations/0020_alerts_in_write.sql).
    const key = `${first.repositoryId}\u0001${first.workflowId}\u0001main`;
    // A third session holds the branch's lock, so both replicas' writes reach it before either decides.
    const other = new pg.Client({ connectionString: db.connectionUri });
    await other.connect();
    try {
      await other.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key]);
      const stored = replicas.map((ingestOn, i) =>
        ingestOn({ kind: "run", record: run({ id: 10 + i, conclusion: "failure" }) }, { id: `r${i}`, event: "workflow_run", action: "completed" }),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]);
      expect(await Promise.all(stored)).toMatchObject([{ outcome: "changed" }, { outcome: "changed" }]);
    } finally {
      await other.end();
    }
    // Email hears of the break once (the second failure would be a Slack thread reply).
    const alerts = await db.pool.any(sql.type(z.object({ kind: z.string(), channel: z.string(), status: z.string() }))`
      SELECT kind, channel, status FROM alerts ORDER BY id`);
    expect(alerts.filter((a) => a.status !== "skipped")).toEqual([{ kind: "broken", channel: "email", status: "pending" }]);
    // Whichever went second saw the first: a second failure (two runs), or an older run ignored (one).
    const state = await db.pool.one(sql.type(z.object({ state: z.string(), last_run_number: z.number() }))`
      SELECT state, last_run_number FROM branch_states`);
    expect(state).toEqual({ state: "failing", last_run_number: run({ id: 11 }).runNumber });
  });
});
