import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBatch } from "../../src/db/write-batch.js";
import { createRunboardMetrics } from "../../src/metrics/runboard-metrics.js";
import { WAITING_TOP_LABEL_SETS } from "../../src/metrics/runner-queue-metrics.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-06-10T12:00:00Z");
const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * 3_600_000);
const HOSTILE = "<img src=x onerror=alert(1)>";

/** A job delivery of `run` on `labels`: queued at the run's creation, started 5 + 2 × index s later. */
function job(run: SeedRun, name: string, index: number, labels: string[]) {
  const payload = jobPayload(run, name, index);
  payload.workflow_job.labels = labels;
  payload.workflow_job.runner_group_name = labels.includes("self-hosted") ? "Default" : "GitHub Actions";
  return payload;
}

describe("runner queue time and minutes on the API, the pages and /metrics", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW, runnerMultipliers: [{ pattern: "ubuntu-*-16core", multiplier: 8 }] });
    const runs: SeedRun[] = [
      { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: at(30), seconds: 200, actor: "mona", message: "One" },
      { id: 2, repository: "acme/web", workflow: "Build", branch: "main", conclusion: "success", createdAt: at(20), seconds: 130, actor: "mona", message: "Two" },
    ];
    // acme/api: ubuntu-latest jobs that waited 5 s and 7 s, a hostile label set's job 9 s.
    await deliver(app, { event: "workflow_job", payload: job(runs[0]!, "test", 0, ["ubuntu-latest"]) });
    await deliver(app, { event: "workflow_job", payload: job(runs[0]!, "lint", 1, ["ubuntu-latest"]) });
    await deliver(app, { event: "workflow_job", payload: job(runs[0]!, "odd", 2, ["self-hosted", HOSTILE]) });
    await deliver(app, { event: "workflow_run", payload: runPayload(runs[0]!) });
    // acme/web: a larger runner, 5 s.
    await deliver(app, { event: "workflow_job", payload: job(runs[1]!, "build", 0, ["ubuntu-22.04-16core"]) });
    await deliver(app, { event: "workflow_run", payload: runPayload(runs[1]!) });
  });
  afterAll(() => db.drop());

  it("answers GET /api/metrics/queue with percentiles per label set, workflow and hour", async () => {
    const response = await app.request("/api/metrics/queue?days=7");
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.window_days).toBe(7);
    expect(body.total).toMatchObject({ jobs: 4, p50_seconds: 6, max_seconds: 9 });
    expect(body.by_runner.find((r: { labels: string[] }) => r.labels.join() === "ubuntu-latest")).toMatchObject({ jobs: 2, p50_seconds: 6 });
    expect(body.by_workflow.map((w: { repository: string; workflow: string }) => `${w.repository} ${w.workflow}`).sort()).toEqual(["acme/api CI", "acme/web Build"]);
    expect(body.by_hour).toHaveLength(24);
    expect(body.waiting).toEqual([]);
  });

  it("filters the queue by repository and by one label set", async () => {
    const web = await (await app.request("/api/metrics/queue?repository=acme/web")).json();
    expect(web.total.jobs).toBe(1);
    const labelled = await (await app.request(`/api/metrics/queue?labels=${encodeURIComponent(`${HOSTILE}, self-hosted`)}`)).json();
    expect(labelled.total).toMatchObject({ jobs: 1, p50_seconds: 9 });
  });

  it("refuses bad parameters with 400 naming them", async () => {
    for (const [query, parameter] of [["days=0", "days"], ["days=x", "days"], ["label=a", "label"]] as const) {
      const response = await app.request(`/api/metrics/queue?${query}`);
      expect(response.status).toBe(400);
      expect((await response.json()).parameter).toBe(parameter);
    }
    expect((await app.request("/api/metrics/usage?days=400")).status).toBe(400);
  });

  it("answers GET /api/metrics/usage with estimated minutes per repository, workflow and month", async () => {
    const body = await (await app.request("/api/metrics/usage?days=30")).json();
    expect(body.estimate).toBe(true);
    // The example repository is public: its ubuntu-latest jobs are free, the self-hosted one apart,
    // the larger runner billed at 8 per minute.
    const api = body.by_workflow_month.find((r: { repository: string }) => r.repository === "acme/api");
    expect(api).toMatchObject({ month: "2026-06", jobs: 3, estimated_minutes: 0 });
    expect(api.free_minutes).toBeGreaterThan(0);
    expect(api.self_hosted_minutes).toBeGreaterThan(0);
    const web = body.by_workflow_month.find((r: { repository: string }) => r.repository === "acme/web");
    expect(web.estimated_minutes).toBe(web.minutes * 8);
    expect(body.total.estimated_minutes).toBe(web.estimated_minutes);
  });

  it("describes both in /openapi.json", async () => {
    const doc = await (await app.request("/openapi.json")).json();
    expect(doc.paths["/api/metrics/queue"].get.parameters.map((p: { name: string }) => p.name)).toEqual(["days", "repository", "labels"]);
    expect(doc.paths["/api/metrics/usage"].get.parameters.map((p: { name: string }) => p.name)).toEqual(["days", "repository"]);
    expect(doc.paths["/api/metrics/usage"].get.responses["200"].content["application/json"].schema.properties).toHaveProperty("by_workflow_month");
  });

  it("serves the Runners page with the label sets escaped, and the minutes labelled as an estimate", async () => {
    const response = await app.request("/runners?days=7");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('aria-current="page">Runners');
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("data-estimate-note");
    expect(html).toMatch(/data-metric="queue-p50">6s</);
    expect(html).toMatch(/data-metric="queue-p95">9s</);
    expect((await app.request("/runners?days=abc")).status).toBe(400);
  });

  it("shows queue time on the overview and the workflow page", async () => {
    expect(await (await app.request("/")).text()).toMatch(/data-metric="queue-p95">[^<]*9s</);
    const workflow = await (await app.request("/workflows?repository=acme%2Fapi&workflow=CI")).text();
    expect(workflow).toMatch(/data-metric="queue-p50">7s</);
  });

  it("exports jobs waiting per label set with a bounded number of series", async () => {
    const runs = Array.from({ length: 14 }, (_, i) => buildRecord({ externalId: 9_000 + i, status: "running", createdAt: at(1) }));
    const jobs = runs.map((run, i) =>
      jobRecord({ id: 90_000 + i, runId: run.externalId, status: "queued", rawStatus: "queued", runnerLabels: [`pool-${i}`], queuedAt: at(0.5) }),
    );
    // pool-0 is the busiest: two more jobs.
    jobs.push(jobRecord({ id: 90_100, runId: runs[0]!.externalId, status: "queued", rawStatus: "queued", runnerLabels: ["pool-0"], queuedAt: at(0.25) }));
    jobs.push(jobRecord({ id: 90_101, runId: runs[0]!.externalId, status: "queued", rawStatus: "queued", runnerLabels: ["pool-0"], queuedAt: at(0.25) }));
    await writeBatch(db.pool, { deliveries: [], runs: runs.map((record) => ({ record, history: false })), jobs, now: NOW });
    const metrics = createRunboardMetrics({ pool: db.pool, now: () => NOW });
    try {
      const text = await metrics.render();
      const series = text.split("\n").filter((line: string) => line.startsWith("runboard_jobs_waiting{"));
      expect(series).toHaveLength(WAITING_TOP_LABEL_SETS + 1);
      expect(series).toContain('runboard_jobs_waiting{labels="pool-0"} 3');
      // 14 label sets: the 10 busiest have a series each, the other 4 add up.
      expect(series).toContain('runboard_jobs_waiting{labels="other"} 4');
      expect(text).toContain('runboard_jobs_waiting_longest_seconds{labels="pool-0"} 1800');
    } finally {
      metrics.close();
    }
  });
});
