import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { BUILD_CHANGED_CHANNEL } from "../../src/db/builds.js";
import { readMigrations, type MigrationFile } from "../../src/db/migrate.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { jsonText, timestamp } from "../../src/db/values.js";
import { decideAlert, type AlertDecision, type BranchState, type FinishedRun } from "../../src/domain/alert-policy.js";
import { matches, routeAlert, type AlertRules } from "../../src/domain/alert-rules.js";
import { isNewerJob, isNewerRun } from "../../src/domain/newer.js";
import type { BuildRecord, JobRecord } from "../../src/domain/normalize.js";
import { isFinished, STATUSES, UNFINISHED_STATUSES, type Status } from "../../src/domain/status.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

// Migrations cannot import TypeScript: these tests hold the rules written twice, once in
// runboard_write_batch and once in src/, to the same answers.

const NOW = new Date("2026-07-01T12:00:00Z");
const at = (minute: number) => new Date(Date.UTC(2026, 6, 1, 10, minute));

/** The newest migration that (re)creates runboard_write_batch: the function the database runs. */
async function newestWriteBatch(): Promise<MigrationFile> {
  const defining = (await readMigrations()).filter((m) => /CREATE (OR REPLACE )?FUNCTION runboard_write_batch\b/.test(m.sql));
  expect(defining.length).toBeGreaterThan(0);
  return defining.at(-1)!;
}

/** The quoted values of an SQL `IN ('a', 'b')` list. */
function quotedList(list: string): string[] {
  return [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

describe("unfinished_builds (migrations/0030)", () => {
  it("keeps the builds in the statuses isFinished refuses, in its table, triggers and fill alike", async () => {
    const migration = (await readMigrations()).find((m) => m.name === "0030_unfinished_builds.sql");
    expect(migration).toBeDefined();
    const lists = [...migration!.sql.matchAll(/\bstatus IN \(([^)]*)\)/g)].map((m) => quotedList(m[1]!).toSorted());
    // The table's check, the function, the insert trigger's condition, the update trigger's two
    // (the old status and the new one) and the fill.
    expect(lists).toHaveLength(6);
    for (const list of lists) expect(list).toEqual(UNFINISHED_STATUSES.toSorted());
  });
});

describe("runboard_write_batch (the newest migration)", () => {
  it("notifies on the channel the live hub listens on", async () => {
    const migration = await newestWriteBatch();
    const channels = [...migration.sql.matchAll(/pg_notify\(\s*'([^']+)'/g)].map((m) => m[1]);
    expect(channels.length, migration.name).toBeGreaterThan(0);
    expect(new Set(channels), migration.name).toEqual(new Set([BUILD_CHANGED_CHANNEL]));
  });

  it("queues a check run for the statuses isFinished accepts", async () => {
    const migration = await newestWriteBatch();
    const checks = /\bchecks AS \(([\s\S]*?)\n\s{2}\),?\n/.exec(migration.sql)?.[1];
    expect(checks, `${migration.name} has no checks part`).toBeDefined();
    const lists = [...checks!.matchAll(/\bc\.status IN \(([^)]*)\)/g)].map((m) => quotedList(m[1]!));
    expect(lists, migration.name).toHaveLength(1);
    expect(lists[0]!.toSorted()).toEqual(STATUSES.filter(isFinished).toSorted());
  });
});

describe("isNewerRun and isNewerJob decide as the upserts do", () => {
  let db: TestDatabase;
  let nextId = 1;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  /** Whether the database's upsert lets `incoming` replace `stored` (the real function, one new run each). */
  async function upsertReplacesRun(incoming: Partial<BuildRecord> & { status: Status }, stored: Partial<BuildRecord> & { status: Status }) {
    const externalId = 50_000 + nextId++;
    const write = (record: BuildRecord) => writeBatch(db.pool, { deliveries: [], runs: [{ record, history: false }], jobs: [], now: NOW });
    const b = buildRecord({ ...stored, externalId });
    const a = buildRecord({ ...incoming, externalId });
    expect((await write(b)).changedRuns).toHaveLength(1);
    return { sql: (await write(a)).changedRuns.length === 1, ts: isNewerRun(a, b) };
  }

  async function upsertReplacesJob(incoming: Partial<JobRecord> & { status: Status }, stored: Partial<JobRecord> & { status: Status }) {
    const id = 5_000_000 + nextId;
    const runId = 60_000 + nextId++;
    const write = (record: JobRecord) => writeBatch(db.pool, { deliveries: [], runs: [], jobs: [record], now: NOW });
    const b = jobRecord({ ...stored, id, runId });
    const a = jobRecord({ ...incoming, id, runId });
    expect((await write(b)).changedJobs).toHaveLength(1);
    return { sql: (await write(a)).changedJobs.length === 1, ts: isNewerJob(a, b) };
  }

  type RunSide = Partial<BuildRecord> & { status: Status };
  const runCases: Array<[string, RunSide, RunSide, boolean]> = [
    ["a later attempt, even queued, over a finished one", { status: "queued", runAttempt: 2 }, { status: "success", runAttempt: 1 }, true],
    ["not an earlier attempt, even finished", { status: "success", runAttempt: 1 }, { status: "queued", runAttempt: 2 }, false],
    ["running over queued", { status: "running", updatedAt: at(1) }, { status: "queued", updatedAt: at(5) }, true],
    ["not running over finished", { status: "running", updatedAt: at(9) }, { status: "failed", updatedAt: at(5) }, false],
    ["a later snapshot of the same rank", { status: "failed", updatedAt: at(6) }, { status: "success", updatedAt: at(5) }, true],
    ["not an older snapshot of the same rank", { status: "success", updatedAt: at(4) }, { status: "failed", updatedAt: at(5) }, false],
    ["not the same snapshot again", { status: "success", updatedAt: at(5) }, { status: "success", updatedAt: at(5) }, false],
    ["a dated snapshot over an undated one", { status: "running", updatedAt: at(5) }, { status: "running", updatedAt: null }, true],
    ["not an undated snapshot over a dated one", { status: "running", updatedAt: null }, { status: "running", updatedAt: at(5) }, false],
  ];

  it.each(runCases)("run: %s", async (_name, incoming, stored, expected) => {
    expect(await upsertReplacesRun(incoming, stored)).toEqual({ sql: expected, ts: expected });
  });

  it("run: where neither snapshot has updated_at, the upsert takes the incoming one and isNewerRun keeps the first", async () => {
    // Not a case that real deliveries make (GitHub always sends updated_at); pinned so that a
    // change to either side is a decision, not an accident.
    expect(await upsertReplacesRun({ status: "running", updatedAt: null }, { status: "running", updatedAt: null })).toEqual({
      sql: true,
      ts: false,
    });
  });

  type JobSide = Partial<JobRecord> & { status: Status };
  const jobCases: Array<[string, JobSide, JobSide, boolean]> = [
    ["finished over running, with fewer steps done", { status: "success", progress: 0 }, { status: "running", progress: 3 }, true],
    ["not running over finished, with more steps done", { status: "running", progress: 9 }, { status: "failed", progress: 2 }, false],
    ["more steps done at the same rank", { status: "running", progress: 4 }, { status: "running", progress: 3 }, true],
    ["not the same progress again", { status: "running", progress: 3 }, { status: "running", progress: 3 }, false],
    ["not fewer steps done at the same rank", { status: "success", progress: 2 }, { status: "failed", progress: 3 }, false],
  ];

  it.each(jobCases)("job: %s", async (_name, incoming, stored, expected) => {
    expect(await upsertReplacesJob(incoming, stored)).toEqual({ sql: expected, ts: expected });
  });
});

describe("the alert policy and routing decide in SQL as in src/domain", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A small seeded generator, so that a failure names a case that can be run again. */
  function seeded(seed: number) {
    let x = seed;
    const next = () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]! };
  }

  const decisionRow = z.object({
    next_state: z.enum(["passing", "failing"]).nullable(),
    next_failing_since: z.coerce.date().nullable(),
    next_failed_runs: z.number().nullable(),
    next_broken_build_id: z.number().nullable(),
    next_last_run_number: z.number().nullable(),
    alert_kind: z.enum(["broken", "still_failing", "fixed"]).nullable(),
    alert_failed_runs: z.number().nullable(),
    alert_broken_build_id: z.number().nullable(),
    time_to_green_seconds: z.number().nullable(),
  });

  /** runboard_decide_alert's answer in decideAlert's shape. */
  async function decideInSql(previous: BranchState | null, run: FinishedRun): Promise<AlertDecision | null> {
    const row = await db.pool.one(sql.type(decisionRow)`
      SELECT * FROM runboard_decide_alert(
        ${previous?.state ?? null}, ${timestamp(previous?.failingSince ?? null)}, ${previous?.failedRuns ?? null},
        ${previous?.brokenBuildId ?? null}, ${previous?.lastRunNumber ?? null},
        ${run.buildId}, ${run.status}, ${run.runNumber}, ${timestamp(run.finishedAt)})`);
    if (row.next_state === null) return null;
    const next: BranchState = {
      state: row.next_state,
      failingSince: row.next_failing_since,
      failedRuns: row.next_failed_runs!,
      brokenBuildId: row.next_broken_build_id,
      lastRunNumber: row.next_last_run_number,
    };
    const alert: AlertDecision["alert"] =
      row.alert_kind === null
        ? null
        : row.alert_kind === "broken"
          ? { kind: "broken" }
          : row.alert_kind === "still_failing"
            ? { kind: "still_failing", failedRuns: row.alert_failed_runs!, brokenBuildId: row.alert_broken_build_id }
            : { kind: "fixed", timeToGreenSeconds: row.time_to_green_seconds!, failedRuns: row.alert_failed_runs!, brokenBuildId: row.alert_broken_build_id };
    return { next, alert };
  }

  it("decides every kind of state and run as decideAlert does", async () => {
    const random = seeded(7);
    const statuses: Status[] = [...STATUSES];
    let alerts = 0;
    for (let i = 0; i < 400; i++) {
      const previous: BranchState | null =
        random.next() < 0.2
          ? null
          : random.next() < 0.5
            ? { state: "passing", failingSince: null, failedRuns: 0, brokenBuildId: null, lastRunNumber: random.pick([null, 5, 10]) }
            : {
                state: "failing",
                failingSince: random.pick([null, at(3), at(20)]),
                failedRuns: random.pick([1, 2, 7]),
                brokenBuildId: random.pick([null, 41]),
                lastRunNumber: random.pick([null, 5, 10]),
              };
      const run: FinishedRun = {
        buildId: 100 + i,
        status: random.pick(statuses),
        runNumber: random.pick([null, 4, 5, 6, 11]),
        // Whole and half seconds: time to green rounds as Math.round does.
        finishedAt: new Date(at(random.pick([0, 3, 10, 25])).getTime() + random.pick([0, 500, 1_499, 59_500])),
      };
      const expected = decideAlert(previous, run);
      if (expected?.alert) alerts++;
      expect(await decideInSql(previous, run), JSON.stringify({ previous, run })).toEqual(expected);
    }
    expect(alerts).toBeGreaterThan(50);
  });

  const routeRow = z.object({
    watched: z.boolean(),
    muted_until: z.coerce.date().nullable(),
    email: z.array(z.string()),
    slack_channel: z.string().nullable(),
  });

  it("routes under any rules as routeAlert does", async () => {
    const random = seeded(11);
    const patterns = ["*", "main", "release/*", "*-hotfix", "acme/*", "acme/api", "a_c%", "*.x", "CI", "Deploy *", "*e*", "a\\b*", ""];
    const values = {
      repository: ["acme/api", "acme/web", "other/api", "a_c%d", "acme/api.x"],
      workflow: ["CI", "Deploy prod", "Lint", "CI.x"],
      branch: ["main", "master", "release/1.2", "fix-hotfix", "feature/a_b", "a\\bc", "trunk"],
    };
    const somePatterns = () => Array.from({ length: random.pick([0, 0, 1, 2]) }, () => random.pick(patterns.filter(Boolean)));
    let watched = 0;
    for (let i = 0; i < 300; i++) {
      const rules: AlertRules = {
        branches: somePatterns(),
        workflows: somePatterns(),
        routes: Array.from({ length: random.pick([0, 1, 2]) }, () => ({
          repository: random.pick(patterns.filter(Boolean)),
          ...(random.next() < 0.5 ? { email: random.pick([[], ["team@example.com"], ["a@example.com", "b@example.com"]]) } : {}),
          ...(random.next() < 0.5 ? { slack_channel: random.pick(["#api", "#web"]) } : {}),
        })),
        mutes: Array.from({ length: random.pick([0, 1, 2]) }, () => ({
          repository: random.pick(patterns.filter(Boolean)),
          ...(random.next() < 0.4 ? { workflow: random.pick(patterns.filter(Boolean)) } : {}),
          ...(random.next() < 0.4 ? { branch: random.pick(patterns.filter(Boolean)) } : {}),
          // NOW is 12:00Z: one mute over, three still on, ending at different times (offsets included).
          until: random.pick(["2026-07-01T11:00:00Z", "2026-07-01T15:30:00.250+02:00", "2026-07-02T08:00:00.123Z", "2026-07-01T12:00:00.001Z"]),
        })),
      };
      const input = {
        repository: random.pick(values.repository),
        workflow: random.pick(values.workflow),
        branch: random.pick(values.branch),
        defaultBranch: random.pick([null, "", "main", "trunk"]),
      };
      const defaults = { email: random.pick([[], ["ops@example.com"]]), slackChannel: random.pick([null, "#ci"]) };
      const expected = routeAlert(rules, input, defaults, NOW);
      if (expected.watched) watched++;
      const row = await db.pool.one(sql.type(routeRow)`
        SELECT * FROM runboard_route_alert(
          ${jsonText(rules)}::jsonb, ${input.repository}, ${input.workflow}, ${input.branch}, ${input.defaultBranch},
          ${sql.array(defaults.email, "text")}, ${defaults.slackChannel}, ${timestamp(NOW)})`);
      expect(
        { watched: row.watched, mutedUntil: row.muted_until, email: row.email, slackChannel: row.slack_channel },
        JSON.stringify({ rules, input, defaults }),
      ).toEqual(expected);
    }
    expect(watched).toBeGreaterThan(30);
  });

  it("matches a glob as `matches` does, whatever the pattern holds", async () => {
    const cases: Array<[string, string]> = [];
    const patterns = ["a*c", "a%c", "a_c", "a\\*", "a\\c", "*", "", "x.y", "(a)*", "[ab]", "a*b*c", "*%*"];
    const values = ["abc", "a%c", "a_c", "aXc", "a\\c", "a\\*", "", "x.y", "xzy", "(a)b", "[ab]", "a", "abbc", "%", "ac", "a\nc", "a\u2028bc", "a\r\nb\nc"];
    for (const p of patterns) for (const v of values) cases.push([p, v]);
    const answers = await db.pool.anyFirst(sql.type(z.object({ m: z.boolean() }))`
      SELECT runboard_glob_matches(p, v) AS m
      FROM unnest(${sql.array(cases.map((c) => c[0]), "text")}, ${sql.array(cases.map((c) => c[1]), "text")}) WITH ORDINALITY AS t(p, v, n)
      ORDER BY n`);
    expect(answers.map((m, i) => [...cases[i]!, m])).toEqual(cases.map(([p, v]) => [p, v, matches(p, v)]));
    expect(answers.filter(Boolean).length).toBeGreaterThan(10);
  });
});
