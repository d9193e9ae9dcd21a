import type { Hono } from "hono";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { PERCENTILE_ERROR } from "../../src/domain/duration-histogram.js";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { clone, workflowExamples } from "../helpers/webhook-examples.js";

const NOW = new Date("2026-03-10T12:00:00Z");
const template = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.status === "completed")!;
const jobTemplate = workflowExamples().find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!;

interface Seed {
  id: number;
  repo?: string;
  branch?: string;
  workflow?: string;
  actor?: string;
  conclusion: string | null;
  status?: string;
  startedAt: string;
  seconds: number;
}

function runPayload(seed: Seed) {
  const payload = clone(template.payload);
  const repo = seed.repo ?? "octo-org/octo-repo";
  const repository = { ...payload.repository, id: repo === "octo-org/octo-repo" ? 1001 : 1002, full_name: repo };
  const started = new Date(seed.startedAt);
  payload.repository = repository;
  payload.workflow_run = {
    ...payload.workflow_run,
    id: seed.id,
    name: seed.workflow ?? "CI",
    head_branch: seed.branch ?? "main",
    status: seed.status ?? "completed",
    conclusion: seed.conclusion,
    created_at: seed.startedAt,
    run_started_at: seed.startedAt,
    updated_at: new Date(started.getTime() + seed.seconds * 1000).toISOString(),
    triggering_actor: { login: seed.actor ?? "octocat" },
    head_commit: { message: `Commit ${seed.id}\n\nBody` },
    repository,
  };
  return payload;
}

const seeds: Seed[] = [
  { id: 1, conclusion: "success", startedAt: "2026-03-09T10:00:00Z", seconds: 100 },
  { id: 2, conclusion: "success", startedAt: "2026-03-09T11:00:00Z", seconds: 200 },
  { id: 3, conclusion: "failure", startedAt: "2026-03-09T12:00:00Z", seconds: 300 },
  { id: 4, conclusion: "success", startedAt: "2026-03-08T12:00:00Z", seconds: 400, branch: "feature/x", actor: "hubot" },
  { id: 5, conclusion: "cancelled", startedAt: "2026-03-08T13:00:00Z", seconds: 50, repo: "octo-org/other" },
  { id: 6, conclusion: null, status: "in_progress", startedAt: "2026-03-10T11:59:00Z", seconds: 30, workflow: "Deploy" },
  // Outside a 7-day window.
  { id: 7, conclusion: "failure", startedAt: "2026-02-01T12:00:00Z", seconds: 999 },
];

describe("JSON API", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW });
    for (const seed of seeds) {
      expect((await deliver(app, { event: "workflow_run", payload: runPayload(seed) })).status).toBe(200);
    }
    const job = clone(jobTemplate.payload);
    job.repository = runPayload(seeds[2]!).repository;
    job.workflow_job = { ...job.workflow_job, run_id: 3 };
    expect((await deliver(app, { event: "workflow_job", payload: job })).status).toBe(200);
  });
  afterAll(() => db.drop());

  const get = async (path: string) => {
    const response = await app.request(path);
    return { status: response.status, body: (await response.json()) as any };
  };

  it("lists builds newest first with the documented fields", async () => {
    const { status, body } = await get("/api/builds");
    expect(status).toBe(200);
    expect(body).toMatchObject({ total: 7, limit: 50, offset: 0 });
    expect(body.builds.map((b: { external_id: string }) => b.external_id)).toEqual(["6", "3", "2", "1", "5", "4", "7"]);
    expect(body.builds[1]).toEqual({
      id: expect.any(Number),
      provider: "github-actions",
      external_id: "3",
      run_attempt: 1,
      repository: "octo-org/octo-repo",
      workflow: "CI",
      status: "failed",
      conclusion: "failure",
      branch: "main",
      commit_sha: template.payload.workflow_run.head_sha,
      commit_message: "Commit 3\n\nBody",
      triggered_by: "octocat",
      event: template.payload.workflow_run.event,
      url: template.payload.workflow_run.html_url,
      created_at: "2026-03-09T12:00:00.000Z",
      started_at: "2026-03-09T12:00:00.000Z",
      finished_at: "2026-03-09T12:05:00.000Z",
      duration_seconds: 300,
    });
    expect(body.builds[0]).toMatchObject({ status: "running", conclusion: null, finished_at: null, duration_seconds: null });
  });

  it("filters and pages", async () => {
    expect((await get("/api/builds?status=failed")).body.total).toBe(2);
    expect((await get("/api/builds?branch=feature%2Fx")).body.builds.map((b: { external_id: string }) => b.external_id)).toEqual(["4"]);
    expect((await get("/api/builds?repository=octo-org/other")).body.total).toBe(1);
    expect((await get("/api/builds?workflow=Deploy")).body.total).toBe(1);
    expect((await get("/api/builds?triggered_by=hubot")).body.total).toBe(1);
    expect((await get("/api/builds?status=")).body.total).toBe(7);
    const page = await get("/api/builds?limit=2&offset=2");
    expect(page.body).toMatchObject({ total: 7, limit: 2, offset: 2 });
    expect(page.body.builds.map((b: { external_id: string }) => b.external_id)).toEqual(["2", "1"]);
  });

  it("pages by cursor, following next_before to the last page, as by offset", async () => {
    const all = (await get("/api/builds")).body.builds.map((b: { id: number }) => b.id);
    const seen: number[] = [];
    let url = "/api/builds?limit=2";
    for (;;) {
      const { status, body } = await get(url);
      expect(status).toBe(200);
      expect(body).toMatchObject({ total: 7, limit: 2, offset: 0 });
      seen.push(...body.builds.map((b: { id: number }) => b.id));
      if (body.next_before === null) break;
      expect(body.next_before).toMatch(/^[A-Za-z0-9_-]+$/);
      url = `/api/builds?limit=2&before=${body.next_before}`;
    }
    expect(seen).toEqual(all);
    const main = await get("/api/builds?branch=main&limit=1");
    const older = await get(`/api/builds?branch=main&limit=10&before=${main.body.next_before}`);
    expect([...main.body.builds, ...older.body.builds].map((b: { branch: string }) => b.branch).every((b: string) => b === "main")).toBe(true);
    expect(main.body.builds.length + older.body.builds.length).toBe(main.body.total);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=abc", "limit"],
    ["limit=501", "limit"],
    ["offset=-1", "offset"],
    ["status=broken", "status"],
    ["colour=red", "colour"],
    ["before=not-a-cursor", "before"],
    [`before=${Buffer.from("2026-02-31T10:00:00.000000~1").toString("base64url")}`, "before"],
    [`before=${Buffer.from("2026-03-09T10:00:00.000000~1").toString("base64url")}&offset=2`, "offset"],
  ])("answers 400 naming the parameter for ?%s", async (query, parameter) => {
    const { status, body } = await get(`/api/builds?${query}`);
    expect(status).toBe(400);
    expect(body.parameter).toBe(parameter);
    expect(body.error).toContain(`invalid query parameter ${parameter}`);
  });

  it("shows one build with its provider and jobs", async () => {
    const list = await get("/api/builds?status=failed&limit=1");
    const { status, body } = await get(`/api/builds/${list.body.builds[0].id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ external_id: "3", provider: "github-actions", provider_name: "GitHub Actions" });
    expect(body.jobs).toEqual([
      {
        id: jobTemplate.payload.workflow_job.id,
        run_attempt: 1,
        name: "linters",
        status: "failed",
        conclusion: "failure",
        runner_labels: ["ubuntu-latest"],
        runner_name: "GitHub Actions 5",
        queue_seconds: 60,
        run_seconds: 198,
        failed_step: "Run yarn run format-check",
        url: jobTemplate.payload.workflow_job.html_url,
        started_at: "2021-08-05T10:34:58.000Z",
        completed_at: "2021-08-05T10:38:16.000Z",
      },
    ]);
  });

  it("answers 404 for an unknown build", async () => {
    expect((await get("/api/builds/999999")).status).toBe(404);
    expect((await get("/api/builds/not-a-number")).status).toBe(404);
    expect((await get("/api/nothing-here")).status).toBe(404);
  });

  it("summarises the window's builds", async () => {
    const { status, body } = await get("/api/metrics/summary?days=7");
    expect(status).toBe(200);
    // Runs 1-6 are in the window; durations of the success and failed runs: 100, 200, 300, 400.
    expect(body).toEqual({
      window_days: 7,
      total_builds: 6,
      success_rate: 0.75,
      avg_duration_seconds: 250,
      p50_duration_seconds: expect.any(Number),
      p95_duration_seconds: expect.any(Number),
      by_status: { queued: 0, running: 1, success: 3, failed: 1, cancelled: 1, skipped: 0 },
    });
    // Percentiles come from duration buckets: within PERCENTILE_ERROR of percentile_cont's 250 and 385.
    expect(Math.abs(body.p50_duration_seconds - 250)).toBeLessThanOrEqual(250 * PERCENTILE_ERROR);
    expect(Math.abs(body.p95_duration_seconds - 385)).toBeLessThanOrEqual(385 * PERCENTILE_ERROR);
  });

  it("summarises with filters and a longer window", async () => {
    const month = (await get("/api/metrics/summary?days=60")).body;
    expect(month.total_builds).toBe(7);
    expect(month.success_rate).toBeCloseTo(3 / 5);
    const feature = (await get("/api/metrics/summary?branch=feature/x")).body;
    expect(feature).toMatchObject({ total_builds: 1, success_rate: 1 });
    expect(Math.abs(feature.p50_duration_seconds - 400)).toBeLessThanOrEqual(400 * PERCENTILE_ERROR);
    const none = (await get("/api/metrics/summary?repository=nobody/nothing")).body;
    expect(none).toMatchObject({ total_builds: 0, success_rate: null, avg_duration_seconds: null });
    expect((await get("/api/metrics/summary?days=0")).body.parameter).toBe("days");
    expect((await get("/api/metrics/summary?days=366")).status).toBe(400);
  });

  it("renders the overview page with the figures and escapes GitHub's text", async () => {
    const payload = runPayload({ id: 50, conclusion: "failure", startedAt: "2026-03-10T10:00:00Z", seconds: 10 });
    payload.workflow_run.head_branch = "<img src=x onerror=alert(1)>";
    payload.workflow_run.head_commit.message = "<script>alert(1)</script>";
    await deliver(app, { event: "workflow_run", payload });
    try {
      const response = await app.request("/");
      const html = await response.text();
      expect(response.status).toBe(200);
      expect(html).toMatch(/^<!DOCTYPE html>/);
      expect(html).toContain("Success rate");
      expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(html).not.toContain("<img src=x");
      expect(html).not.toContain("<script>alert");
    } finally {
      await db.pool.query(sql.unsafe`DELETE FROM builds WHERE external_id = 50`);
    }
  });
});

describe("GET /health", () => {
  it("answers ok when the database answers", async () => {
    const db = await createTestDatabase();
    try {
      const app = await createTestServer(db.pool);
      const response = await app.request("/health");
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok", database: "ok" });
    } finally {
      await db.drop();
    }
  });

  it("answers 503 with the reason when the database is down", async () => {
    const db = await createTestDatabase();
    const app = await createTestServer(db.pool, { githubApp: false, now: () => NOW });
    expect((await app.request("/health")).status).toBe(200);
    // The database goes away under the running pool.
    const admin = new pg.Client({ connectionString: inject("adminUrl") });
    await admin.connect();
    await admin.query(`DROP DATABASE ${new URL(db.connectionUri).pathname.slice(1)} WITH (FORCE)`);
    await admin.end();
    try {
      const response = await app.request("/health");
      expect(response.status).toBe(503);
      const body = (await response.json()) as any;
      expect(body).toMatchObject({ status: "error", database: "unavailable" });
      expect(body.reason).toEqual(expect.any(String));
    } finally {
      await db.drop();
    }
  });
});
