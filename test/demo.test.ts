import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoConfig } from "../src/demo/demo-config.js";
import { demoDeliveries, DEMO_RED_BRANCH } from "../src/demo/demo-deliveries.js";
import { createLiveRuns } from "../src/demo/live-runs.js";
import { resetDemoDataDir } from "../src/demo/reset-demo-data-dir.js";
import type { DemoDelivery } from "../src/demo/run-deliveries.js";
import { runDemo, type RunningDemo } from "../src/demo/run-demo.js";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord, type JobRecord } from "../src/domain/normalize.js";
import { createTestServer, silentLog, testConfig, TestOctokit } from "./helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "./helpers/test-database.js";

const TO = new Date("2026-06-10T14:37:00Z");
const FROM = new Date(TO.getTime() - 14 * 86_400_000);
const DAY = 86_400_000;

/** What the webhook handler makes of a delivery. */
function normalize(delivery: DemoDelivery): BuildRecord | JobRecord {
  // The demo's deliveries are made to GitHub's shapes; normalize reads them as a webhook's.
  const p = delivery.payload as { workflow_run: never; workflow_job: never; installation: never; repository: never };
  const record =
    delivery.event === "workflow_run"
      ? normalizeWorkflowRun(p.workflow_run, { installation: p.installation, fallbackRepository: p.repository })
      : normalizeWorkflowJob(p.workflow_job, { repository: p.repository, installation: p.installation });
  if (isUnusable(record)) throw new Error(`${delivery.event} ${delivery.id}: ${record.unusable}`);
  return record;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe("demo deliveries", () => {
  let deliveries: DemoDelivery[];
  let finalRuns: BuildRecord[];
  const jobs = new Map<number, JobRecord>();

  beforeAll(() => {
    deliveries = [...demoDeliveries({ seed: 1, from: FROM, to: TO })];
    const runs = new Map<string, BuildRecord>();
    for (const delivery of deliveries) {
      const record = normalize(delivery);
      // Later deliveries of a run or job carry its later state.
      if (delivery.event === "workflow_run") runs.set(`${(record as BuildRecord).externalId}/${record.runAttempt}`, record as BuildRecord);
      else jobs.set((record as JobRecord).id, record as JobRecord);
    }
    finalRuns = [...runs.values()];
  });

  it("are the same for the same seed and range, and differ for another seed", () => {
    const digest = (seed: number) => {
      const list = [...demoDeliveries({ seed, from: new Date(TO.getTime() - 3 * DAY), to: TO })];
      return createHash("sha256").update(JSON.stringify(list)).digest("hex");
    };
    expect(digest(1)).toBe(digest(1));
    expect(digest(2)).not.toBe(digest(1));
  });

  it("are all accepted by normalize, in order, inside the range, each with its own delivery id", () => {
    expect(deliveries.length).toBeGreaterThan(5_000);
    // normalize ran on every one above (it throws on an unusable one); spot-check the shapes.
    expect(deliveries.every((d) => d.event === "workflow_run" || d.event === "workflow_job")).toBe(true);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.at >= deliveries[i - 1]!.at).toBe(true);
    expect(deliveries[0]!.at >= FROM && deliveries.at(-1)!.at < TO).toBe(true);
    for (const delivery of deliveries) {
      expect(delivery.payload).toMatchObject({ installation: { id: expect.any(Number) }, sender: { login: expect.any(String) } });
    }
    // Every job belongs to a run of the same repository.
    const runIds = new Set(finalRuns.map((r) => r.externalId));
    expect([...jobs.values()].every((job) => runIds.has(job.runId))).toBe(true);
  });

  it("cover two weeks, every day, of several repositories, workflows and people", () => {
    const days = new Set(finalRuns.map((r) => Math.floor((r.createdAt!.getTime() - FROM.getTime()) / DAY)));
    expect([...days].sort((a, b) => a - b)).toEqual([...Array(14).keys()]);
    const repositories = new Set(finalRuns.map((r) => r.repository));
    expect(repositories.size).toBeGreaterThanOrEqual(4);
    for (const repository of repositories) {
      expect(new Set(finalRuns.filter((r) => r.repository === repository).map((r) => r.workflow)).size).toBeGreaterThanOrEqual(2);
    }
    expect([...new Set(finalRuns.map((r) => r.workflow))]).toEqual(expect.arrayContaining(["CI", "Deploy", "Lint", "Nightly E2E"]));
    expect(new Set(finalRuns.map((r) => r.triggeredBy)).size).toBeGreaterThanOrEqual(6);
    expect(new Set(finalRuns.map((r) => r.event))).toEqual(new Set(["push", "pull_request", "schedule", "workflow_run"]));
  });

  it("have realistic durations and queue times", () => {
    const done = finalRuns.filter((r) => r.status === "success");
    const minutes = done.map((r) => (r.finishedAt!.getTime() - r.startedAt!.getTime()) / 60_000);
    expect(median(minutes)).toBeGreaterThan(2);
    expect(median(minutes)).toBeLessThan(30);
    const started = [...jobs.values()].filter((j) => j.startedAt);
    const queued = started.map((j) => (j.startedAt!.getTime() - j.queuedAt!.getTime()) / 1000);
    expect(median(queued)).toBeGreaterThanOrEqual(2);
    expect(median(queued)).toBeLessThan(120);
    // Some wait minutes: macOS runners, the hardware rig, approvals.
    expect(queued.filter((s) => s > 180).length).toBeGreaterThan(10);
    expect(started.every((j) => !j.completedAt || j.completedAt >= j.startedAt!)).toBe(true);
    expect([...jobs.values()].filter((j) => j.status === "success" || j.status === "failed").every((j) => j.steps.length >= 4)).toBe(true);
  });

  it("have failures, flaky jobs re-run, cancelled runs, and a branch that is red at the end", () => {
    const failed = finalRuns.filter((r) => r.status === "failed");
    expect(failed.length / finalRuns.length).toBeGreaterThan(0.04);
    expect(failed.length / finalRuns.length).toBeLessThan(0.25);
    expect(finalRuns.some((r) => r.runAttempt > 1 && r.status === "success")).toBe(true);
    expect(finalRuns.some((r) => r.status === "cancelled")).toBe(true);
    expect([...jobs.values()].filter((j) => j.failedStep).length).toBeGreaterThan(20);

    const latest = new Map<string, BuildRecord>();
    for (const run of [...finalRuns].sort((a, b) => a.createdAt!.getTime() - b.createdAt!.getTime())) {
      if (run.status === "success" || run.status === "failed") latest.set(`${run.repository} ${run.workflow} ${run.branch}`, run);
    }
    const red = latest.get(`${DEMO_RED_BRANCH.repository} ${DEMO_RED_BRANCH.workflow} ${DEMO_RED_BRANCH.branch}`)!;
    expect(red.status).toBe("failed");
    expect(TO.getTime() - red.finishedAt!.getTime()).toBeLessThan(3 * 3_600_000);
    const redJobs = [...jobs.values()].filter((j) => j.runId === red.externalId && j.runAttempt === red.runAttempt);
    expect(redJobs.find((j) => j.status === "failed")?.failedStep).toBe("Run go test -tags=integration ./internal/...");
    // Main of the other repositories is green at the end.
    const redMains = [...latest.entries()].filter(([key, run]) => key.endsWith(" CI main") && run.status === "failed");
    expect(redMains.map(([key]) => key)).toEqual([`${DEMO_RED_BRANCH.repository} CI main`]);
  });

  it("go on live after the history: new ids and numbers, runs done within minutes", () => {
    const live = createLiveRuns({ seed: 1, history: deliveries });
    const lastRunId = Math.max(...finalRuns.map((r) => r.externalId));
    const produced = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => live.next(new Date(TO.getTime() + i * 5_000)));
    const records = produced.map(normalize);
    const liveRuns = records.filter((r): r is BuildRecord => "externalId" in r);
    expect(liveRuns.every((r) => r.externalId > lastRunId)).toBe(true);
    expect(produced.every((d) => d.at >= TO && d.at.getTime() < TO.getTime() + 10 * 60_000)).toBe(true);
    expect(liveRuns.some((r) => r.status === "queued") && liveRuns.some((r) => r.status === "running")).toBe(true);
    const finished = liveRuns.filter((r) => r.finishedAt);
    expect(finished.length).toBeGreaterThan(5);
    // The red branch stays red.
    expect(liveRuns.some((r) => r.repository === DEMO_RED_BRANCH.repository && r.branch === "main")).toBe(false);
  });
});

describe("demo configuration", () => {
  it("is demo mode with an app of its own, on an embedded database, never the environment's", () => {
    const config = demoConfig(
      { DATABASE_URL: "postgres://real/db", APP_ID: "99", WEBHOOK_SECRET: "real", POLL_INTERVAL_SECONDS: "30", PORT: "4100", SLACK_SIGNING_SECRET: "s" },
      "./.data-demo",
    );
    expect(config).toMatchObject({ demo: true, databaseUrl: null, dataDir: "./.data-demo", port: 4100, backfillDays: 0, poll: { intervalSeconds: 0 } });
    expect(config.github).toMatchObject({ appId: 1 });
    expect(config.github!.webhookSecret).not.toBe("real");
    expect(config.slack.signingSecret).toBeNull();
  });

  it("empties only a data directory of its own, and not while a demo runs on it", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "runboard-demo-dir-"));
    try {
      const dir = path.join(root, "demo");
      await resetDemoDataDir(dir);
      await writeFile(path.join(dir, "leftover"), "x");
      await resetDemoDataDir(dir);
      expect(await readdir(dir)).toEqual(["RUNBOARD-DEMO"]);
      await mkdir(path.join(dir, "postgres"));
      await writeFile(path.join(dir, "postgres", "postmaster.pid"), `${process.pid}\n${dir}\n`);
      await expect(resetDemoDataDir(dir)).rejects.toThrow(/another demo is running/);
      await writeFile(path.join(root, "precious"), "x");
      await expect(resetDemoDataDir(root)).rejects.toThrow(/did not make/);
      expect(await readdir(root)).toContain("precious");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("npm run demo", () => {
  let db: TestDatabase;
  let demo: RunningDemo;
  let unmatched: string[] = [];
  const onNoMatch = (req: { href?: string; path?: string; method?: string }) => void unmatched.push(`${req.method} ${req.href ?? req.path}`);
  // Runboard's clock reads a Wednesday afternoon, so the day fed is a working day whenever this runs.
  const offset = Date.now() - Date.parse("2026-06-10T15:00:00Z");
  const now = () => new Date(Date.now() - offset);
  const started = now();

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    nock.emitter.on("no match", onNoMatch);
    db = await createTestDatabase();
    demo = await runDemo({
      config: testConfig({ DATABASE_URL: db.connectionUri, DEMO: "true" }),
      log: silentLog,
      seed: 3,
      days: 1,
      liveEverySeconds: 1,
      now,
      Octokit: TestOctokit,
    });
    await demo.history;
  });
  afterAll(async () => {
    await demo?.stop();
    await db?.drop();
    nock.emitter.removeListener("no match", onNoMatch);
    nock.enableNetConnect();
  });

  it("serves the demo data with the banner on every page, and the live runs come in", async () => {
    const overview = await (await fetch(`${demo.url}/`)).text();
    expect(overview).toContain("Demo data: an example organization; nothing here comes from GitHub");
    expect(Number(/data-metric="builds">(\d+)</.exec(overview)?.[1])).toBeGreaterThan(30);
    expect(overview).toContain("acme-robotics/fleet-api");

    const summary = (await (await fetch(`${demo.url}/api/metrics/summary?days=1`)).json()) as { total_builds: number; success_rate: number };
    expect(summary.total_builds).toBeGreaterThan(30);
    expect(summary.success_rate).toBeGreaterThan(0.5);
    expect(summary.success_rate).toBeLessThan(1);

    const builds = await (await fetch(`${demo.url}/builds?status=failed`)).text();
    expect(builds).toContain("data-demo-banner");
    const id = /href="\/builds\/(\d+)"/.exec(builds)![1];
    const build = await (await fetch(`${demo.url}/builds/${id}`)).text();
    expect(build).toContain("data-demo-banner");
    expect(build).toContain("failed at");

    // A live push lands a second after start: a build created after the history.
    await expect
      .poll(
        async () => {
          const list = (await (await fetch(`${demo.url}/api/builds?limit=1`)).json()) as { builds: Array<{ created_at: string }> };
          return new Date(list.builds[0]!.created_at) >= started;
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe(true);
  });

  it("never calls GitHub: check runs stay queued, nothing leaves this machine", async () => {
    const checkRuns = await db.pool.one(sql.type(z.object({ queued: z.number(), written: z.number(), tried: z.number() }))`
      SELECT count(*)::int AS queued, count(check_run_id)::int AS written, count(*) FILTER (WHERE attempts > 0)::int AS tried FROM check_runs`);
    expect(checkRuns.queued).toBeGreaterThan(0);
    expect(checkRuns).toMatchObject({ written: 0, tried: 0 });
    expect(unmatched.filter((request) => !request.includes("127.0.0.1"))).toEqual([]);
  });

  it("shows no banner outside demo mode", async () => {
    const app = await createTestServer(db.pool);
    expect(await (await app.request("/")).text()).not.toContain("data-demo-banner");
  });
});
