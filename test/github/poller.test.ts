import type { Hono } from "hono";
import nock from "nock";
import type { Probot } from "probot";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createProbot } from "../../src/github/create-probot.js";
import { createHistoryImport, type HistoryImport } from "../../src/github/history-import.js";
import { createPoller, type Poller } from "../../src/github/poller.js";
import { createTestServer, deliver, silentLog, testConfig, testGithubParts, TestOctokit } from "../helpers/github-app.js";
import { runPayload } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { requestHistory } from "../../src/db/sync-repositories.js";

const API = "https://api.github.com";
const NOW = new Date("2026-08-10T12:00:00Z");

interface FakeRepo {
  id: number;
  full_name: string;
  runs: any[];
}

/**
 * GitHub's run listing, stood in: filters by the `created` range, pages by 100, answers at most
 * 1,000 results per query like GitHub, and answers 304 to a matching If-None-Match.
 */
class FakeGitHub {
  repos: FakeRepo[] = [];
  listCalls: Array<{ repo: string; created: string; page: number; ifNoneMatch: string | undefined }> = [];
  failNext: Array<{ status: number; headers: Record<string, string> }> = [];
  singleReads: number[] = [];
  /** Jobs by run id, as GitHub lists them for a run's attempt. */
  jobs = new Map<number, any[]>();
  jobReads: number[] = [];

  addRepo(id: number, name: string, count: number, start: Date, stepMs: number, conclusion: (i: number) => string | null = () => "success") {
    const runs = Array.from({ length: count }, (_, i) => {
      const createdAt = new Date(start.getTime() + i * stepMs);
      const c = conclusion(i);
      const payload = runPayload({
        id: id * 100_000 + i, repository: name, workflow: "CI", branch: "main", conclusion: c as "success",
        status: c ? "completed" : "in_progress", createdAt, seconds: 60, actor: "mona", message: `run ${i}`,
      });
      return { ...payload.workflow_run, repository: { id, full_name: name } };
    });
    this.repos.push({ id, full_name: name, runs });
  }

  install() {
    nock(API).persist().post(/\/app\/installations\/\d+\/access_tokens/).reply(201, {
      token: "ghs_test", expires_at: "2099-01-01T00:00:00Z", permissions: { actions: "read", checks: "write" },
    });
    nock(API).persist().get("/app/installations").query(true).reply(200, [{ id: 42, account: { login: "acme" } }]);
    nock(API).persist().get("/installation/repositories").query(true).reply(() => [
      200,
      { total_count: this.repos.length, repositories: this.repos.map((r) => ({ id: r.id, full_name: r.full_name, default_branch: "main" })) },
    ]);
    const fake = this;
    nock(API)
      .persist()
      .get(/\/repos\/acme\/[\w-]+\/actions\/runs\/\d+\/attempts\/\d+\/jobs$/)
      .query(true)
      .reply((uri) => {
        const runId = Number(uri.split("/")[6]);
        fake.jobReads.push(runId);
        const jobs = fake.jobs.get(runId) ?? [];
        return [200, { total_count: jobs.length, jobs }];
      });
    nock(API)
      .persist()
      .get(/\/repos\/acme\/[\w-]+\/actions\/runs\/\d+$/)
      .reply((uri) => {
        const id = Number(uri.split("/").pop());
        const run = fake.repos.flatMap((r) => r.runs).find((r) => r.id === id);
        fake.singleReads.push(id);
        return run ? [200, run] : [404, { message: "Not Found" }];
      });
    nock(API)
      .persist()
      .get(/\/repos\/acme\/[\w-]+\/actions\/runs$/)
      .query(true)
      .reply(function (uri) {
        const url = new URL(uri, API);
        const repo = fake.repos.find((r) => url.pathname === `/repos/${r.full_name}/actions/runs`)!;
        const created = url.searchParams.get("created")!;
        const page = Number(url.searchParams.get("page") ?? 1);
        const ifNoneMatch = this.req.headers["if-none-match"] as string | undefined;
        fake.listCalls.push({ repo: repo.full_name, created, page, ifNoneMatch });
        const failure = fake.failNext.shift();
        if (failure) return [failure.status, { message: "You have exceeded a secondary rate limit." }, failure.headers];
        const [fromText, toText] = created.startsWith(">=") ? [created.slice(2), null] : created.split("..");
        const from = new Date(fromText!).getTime();
        const to = toText ? new Date(toText).getTime() : Infinity;
        const matching = repo.runs
          .filter((r) => new Date(r.created_at).getTime() >= from && new Date(r.created_at).getTime() <= to)
          .sort((a, b) => new Date(b.created_at).getTime() - new Date(a.created_at).getTime());
        const etag = `W/"${repo.full_name}-${created}-${matching.map((r) => `${r.id}:${r.status}`).join(",").length}"`;
        if (ifNoneMatch === etag) return [304, ""];
        const offset = (page - 1) * 100;
        const served = offset >= 1000 ? [] : matching.slice(offset, Math.min(offset + 100, 1000));
        return [200, { total_count: matching.length, workflow_runs: served }, { etag, "x-ratelimit-remaining": "4999" }];
      });
  }
}

const count = (db: TestDatabase) => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM builds`);

describe("poller", () => {
  let db: TestDatabase;
  let probot: Probot;
  let github: FakeGitHub;
  let sleeps: number[];
  let poller: Poller;
  let history: HistoryImport;

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterAll(() => nock.enableNetConnect());

  beforeEach(async () => {
    db = await createTestDatabase();
    probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    github = new FakeGitHub();
    sleeps = [];
    const parts = testGithubParts(db.pool, probot, { now: () => NOW, sleep: async (ms) => void sleeps.push(ms) });
    poller = createPoller({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => NOW, intervalSeconds: 0, jitterSeconds: 0 });
    history = createHistoryImport({ pool: db.pool, connectionUri: db.connectionUri, ...parts, log: silentLog, now: () => NOW, days: 3 });
  });
  afterEach(async () => {
    nock.cleanAll();
    await db.drop();
  });

  it("backfills three repositories with paginated runs, each run once", async () => {
    const start = new Date(NOW.getTime() - 2 * 86_400_000);
    github.addRepo(1, "acme/api", 250, start, 60_000);
    github.addRepo(2, "acme/web", 130, start, 120_000);
    github.addRepo(3, "acme/infra", 40, start, 600_000);
    github.install();
    // The first poll finds the repositories (and their last day); the import brings the rest.
    await poller.pollOnce();
    expect(await history.runOnce()).toBe(3);
    expect(await count(db)).toBe(420);
    // Paginated: more than one page was read for the 250-run repository.
    expect(github.listCalls.some((c) => c.repo === "acme/api" && c.page === 2)).toBe(true);
    // Asked again over the same range, it resumes after it: nothing read or imported twice.
    const calls = github.listCalls.length;
    await requestHistory(db.pool, new Date(NOW.getTime() - 3 * 86_400_000));
    await history.runOnce();
    expect(history.lastStats().runsChanged).toBe(0);
    expect(github.listCalls.length).toBe(calls);
    expect(await count(db)).toBe(420);
  });

  it("sends If-None-Match on the next poll and changes nothing on 304", async () => {
    github.addRepo(1, "acme/api", 5, new Date(NOW.getTime() - 3_600_000), 60_000);
    github.install();
    const first = await poller.pollOnce();
    expect(first.runsChanged).toBe(5);
    // The cursor moves up to the newest run once all are finished; from then on the query is stable.
    await poller.pollOnce();
    const before = await db.pool.anyFirst(sql.type(z.object({ t: z.date() }))`SELECT changed_at AS t FROM builds ORDER BY id`);
    const second = await poller.pollOnce();
    const last = github.listCalls.at(-1)!;
    expect(last.ifNoneMatch).toMatch(/^W\//);
    expect(second.notModified).toBe(1);
    expect(second.runsSeen).toBe(0);
    expect(await db.pool.anyFirst(sql.type(z.object({ t: z.date() }))`SELECT changed_at AS t FROM builds ORDER BY id`)).toEqual(before);
  });

  it("splits a window holding more than 1,000 runs", async () => {
    github.addRepo(1, "acme/api", 1_200, new Date(NOW.getTime() - 20 * 3_600_000), 40_000);
    github.install();
    await poller.pollOnce();
    expect(await count(db)).toBe(1_200);
    const windows = new Set(github.listCalls.map((c) => c.created));
    expect(windows.size).toBeGreaterThan(3);
  });

  it("waits out a secondary rate limit's Retry-After, then resumes", async () => {
    github.addRepo(1, "acme/api", 30, new Date(NOW.getTime() - 3_600_000), 60_000);
    github.install();
    github.failNext.push({ status: 403, headers: { "retry-after": "3", "x-ratelimit-remaining": "4000" } });
    const stats = await poller.pollOnce();
    expect(sleeps).toEqual([3_000]);
    expect(stats.runsChanged).toBe(30);
    expect(await count(db)).toBe(30);
  });

  it("finds a run the webhooks missed, and never lets a stale listing overwrite a newer webhook", async () => {
    github.addRepo(1, "acme/api", 2, new Date(NOW.getTime() - 3_600_000), 60_000, () => null);
    github.install();
    const app: Hono = await createTestServer(db.pool);
    // The webhook for run 0 said it completed; GitHub's listing (older snapshot) says in progress.
    const delivered = structuredClone(github.repos[0]!.runs[0]);
    delivered.status = "completed";
    delivered.conclusion = "failure";
    delivered.updated_at = new Date(NOW.getTime() - 60_000).toISOString();
    expect((await deliver(app, { event: "workflow_run", payload: { action: "completed", workflow_run: delivered, repository: delivered.repository } })).status).toBe(200);
    await poller.pollOnce();
    const rows = await db.pool.any(sql.type(z.object({ external_id: z.number(), status: z.string() }))`
      SELECT external_id, status FROM builds ORDER BY external_id`);
    expect(rows).toEqual([
      { external_id: 100_000, status: "failed" },
      // Run 1 never came by webhook: the poll found it.
      { external_id: 100_001, status: "running" },
    ]);
  });

  it("shows when each installation was last synced and whether it is behind", async () => {
    github.addRepo(1, "acme/api", 3, new Date(NOW.getTime() - 3_600_000), 60_000);
    github.install();
    const app = await createTestServer(db.pool, { now: () => NOW });
    expect(await (await app.request("/api/sync")).json()).toEqual({ installations: [], behind: false, importing: false });
    await poller.pollOnce();
    const synced = (await (await app.request("/api/sync")).json()) as any;
    expect(synced).toMatchObject({ behind: false, installations: [{ account: "acme", repositories: 1, behind: false, reason: null }] });
    expect(await (await app.request("/")).text()).toContain("up to date");
    // The next poll of the repository fails: the installation shows as behind, with why.
    github.failNext.push({ status: 500, headers: {} });
    await poller.pollOnce();
    const behind = (await (await app.request("/api/sync")).json()) as any;
    expect(behind.behind).toBe(true);
    expect(behind.installations[0].reason).toBe("1 repositories failed to poll");
    expect(await (await app.request("/")).text()).toContain("behind: 1 repositories failed to poll");
  });

  it("re-reads a run stuck in running for longer than its workflow takes", async () => {
    // Created two days ago: outside the listing window, so only the stuck-run check can see it.
    github.addRepo(1, "acme/api", 1, new Date(NOW.getTime() - 2 * 86_400_000), 60_000);
    github.install();
    const app: Hono = await createTestServer(db.pool);
    const stale = structuredClone(github.repos[0]!.runs[0]);
    stale.status = "in_progress";
    stale.conclusion = null;
    stale.updated_at = stale.created_at;
    await deliver(app, { event: "workflow_run", payload: { action: "in_progress", workflow_run: stale, repository: stale.repository } });
    await poller.pollOnce();
    expect(github.singleReads).toEqual([100_000]);
    const status = await db.pool.oneFirst(sql.type(z.object({ s: z.string() }))`SELECT status AS s FROM builds`);
    expect(status).toBe("success");
  });

  it("polls from one replica at a time", async () => {
    github.addRepo(1, "acme/api", 3, new Date(NOW.getTime() - 3_600_000), 60_000);
    github.install();
    const [a, b] = await Promise.all([poller.pollOnce(), poller.pollOnce()]);
    expect([a.skipped, b.skipped].filter(Boolean)).toEqual(["another replica is polling"]);
    expect(await count(db)).toBe(3);
  });
});
