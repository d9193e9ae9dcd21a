import type { Hono } from "hono";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createProbot } from "../../src/github/create-probot.js";
import { createWorkflowEventHandler } from "../../src/github/handle-workflow-event.js";
import { createPoller } from "../../src/github/poller.js";
import { createRunboardApp } from "../../src/github/runboard-app.js";
import { createIngest } from "../../src/ingest.js";
import { createMetricsRegistry } from "../../src/metrics/registry.js";
import { createRunboardMetrics, type RunboardMetrics } from "../../src/metrics/runboard-metrics.js";
import { createServer } from "../../src/web/create-server.js";
import { deliver, silentLog, testConfig, testGithubParts, TestOctokit, withWebhooks } from "../helpers/github-app.js";
import { createWebhookReceiver } from "../../src/github/receive-webhook.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

const NOW = new Date("2026-08-10T12:00:00Z");

/** The value of one sample line (`name{labels} value`) in a scrape, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("metrics registry", () => {
  it("renders counters, gauges and cumulative histogram buckets in the text format", async () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter("things_total", "Things.\nCounted.");
    const gauge = registry.gauge("level", "A level.");
    const histogram = registry.histogram("wait_seconds", "Waits.", [0.1, 1]);
    counter.inc({ kind: 'a"b\\c\nd' });
    counter.inc({ kind: 'a"b\\c\nd' }, 2);
    gauge.set(-1.5);
    for (const value of [0.05, 0.5, 0.5, 3]) histogram.observe(value, { path: "x" });
    const text = await registry.render();
    expect(text).toContain("# HELP things_total Things.\\nCounted.\n# TYPE things_total counter\n");
    expect(sample(text, 'things_total{kind="a\\"b\\\\c\\nd"}')).toBe(3);
    expect(sample(text, "level")).toBe(-1.5);
    expect(sample(text, 'wait_seconds_bucket{path="x",le="0.1"}')).toBe(1);
    expect(sample(text, 'wait_seconds_bucket{path="x",le="1"}')).toBe(3);
    expect(sample(text, 'wait_seconds_bucket{path="x",le="+Inf"}')).toBe(4);
    expect(sample(text, 'wait_seconds_sum{path="x"}')).toBeCloseTo(4.05);
    expect(sample(text, 'wait_seconds_count{path="x"}')).toBe(4);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("refuses what would break the format", () => {
    const registry = createMetricsRegistry();
    registry.counter("ok_total", "Fine.");
    expect(() => registry.counter("ok_total", "Again.")).toThrow("registered twice");
    expect(() => registry.gauge("bad-name", "Dash.")).toThrow("invalid metric name");
    expect(() => registry.histogram("h", "Unsorted.", [1, 0.5])).toThrow("ascend");
    expect(() => registry.counter("down_total", "Down.").inc(undefined, -1)).toThrow("cannot go down");
  });
});

describe("GET /metrics", () => {
  let db: TestDatabase;
  let metrics: RunboardMetrics;
  let app: Hono;
  const scrape = async () => {
    const response = await app.request("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    return response.text();
  };

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterAll(() => nock.enableNetConnect());

  beforeEach(async () => {
    db = await createTestDatabase();
    metrics = createRunboardMetrics({ pool: db.pool, now: () => NOW });
    const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
    const handleWorkflowEvent = createWorkflowEventHandler({ ingest });
    const probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    await probot.load(createRunboardApp({ pool: db.pool, now: () => NOW }));
    const server = createServer({
      pool: db.pool,
      log: silentLog,
      webhookPath: "/api/github/webhooks",
      getProbot: () => probot,
      now: () => NOW,
      alerts: { baseUrl: "http://runboard.test", email: null, slack: null },
      live: null,
      baseUrl: "http://runboard.test",
      syncStaleAfterMs: 600_000,
      metrics,
    });
    app = withWebhooks(server, "/api/github/webhooks", createWebhookReceiver({ getProbot: () => probot, handleWorkflowEvent, log: silentLog, metrics }));
  });
  afterEach(async () => {
    metrics.close();
    nock.cleanAll();
    await db.drop();
  });

  it("counts webhooks by event and outcome, and times them", async () => {
    const run = workflowExamples().find((e) => e.event === "workflow_run")!;
    expect((await deliver(app, { event: "workflow_run", payload: run.payload })).status).toBe(200);
    // The same delivery again changes nothing.
    expect((await deliver(app, { event: "workflow_run", payload: run.payload })).status).toBe(200);
    expect((await deliver(app, { event: "workflow_run", payload: run.payload, secret: "wrong" })).status).toBe(401);
    // An event name is a header anyone can send: it must not become a label of its own.
    expect((await deliver(app, { event: 'made_up",evil="1', payload: {} })).status).toBe(200);

    const text = await scrape();
    expect(sample(text, 'runboard_webhooks_received_total{event="workflow_run"}')).toBe(3);
    expect(sample(text, 'runboard_webhooks_received_total{event="other"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="stored",status="200"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="ignored",status="200"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="rejected",status="401"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="other",outcome="ignored",status="200"}')).toBe(1);
    expect(text).not.toContain("evil");
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_count{event="workflow_run"}')).toBe(3);
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_bucket{event="workflow_run",le="+Inf"}')).toBe(3);
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_sum{event="workflow_run"}')).toBeGreaterThan(0);
  });

  it("reads the alert queue and the poller's lag from the database at each scrape", async () => {
    let text = await scrape();
    expect(sample(text, 'runboard_alert_queue_depth{channel="email"}')).toBe(0);
    expect(sample(text, "runboard_poller_lag_seconds")).toBe(0);
    expect(sample(text, "runboard_metrics_database_up")).toBe(1);

    await db.pool.query(sql.unsafe`
      INSERT INTO alerts (kind, channel, status) VALUES ('test', 'email', 'pending'), ('test', 'email', 'pending'),
        ('test', 'slack', 'failed'), ('test', 'slack', 'sent')`);
    await db.pool.query(sql.unsafe`
      INSERT INTO installations (id, account, last_synced_at, suspended_at, deleted_at) VALUES
        (1, 'synced-two-minutes-ago', ${sql.timestamp(new Date(NOW.getTime() - 120_000))}, NULL, NULL),
        (2, 'synced-just-now', ${sql.timestamp(NOW)}, NULL, NULL),
        (3, 'suspended-long-ago', ${sql.timestamp(new Date(NOW.getTime() - 86_400_000))}, now(), NULL),
        (4, 'deleted-long-ago', ${sql.timestamp(new Date(NOW.getTime() - 86_400_000))}, NULL, now())`);
    text = await scrape();
    expect(sample(text, 'runboard_alert_queue_depth{channel="email"}')).toBe(2);
    expect(sample(text, 'runboard_alert_queue_depth{channel="slack"}')).toBe(0);
    expect(sample(text, 'runboard_alerts_failed{channel="slack"}')).toBe(1);
    expect(sample(text, 'runboard_alerts_failed{channel="email"}')).toBe(0);
    // Only active installations count: the suspended and deleted ones are not polled.
    expect(sample(text, "runboard_poller_lag_seconds")).toBe(120);
    expect(sample(text, 'runboard_installations{state="active"}')).toBe(2);
    expect(sample(text, 'runboard_installations{state="suspended"}')).toBe(1);
    expect(sample(text, 'runboard_installations{state="deleted"}')).toBe(1);
  });

  it("shows the rate limit the poller last read from GitHub", async () => {
    const listing = nock("https://api.github.com").get("/app/installations").query(true).reply(200, [], { "x-ratelimit-remaining": "4321" });
    const probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    const poller = createPoller({
      pool: db.pool,
      connectionUri: db.connectionUri,
      ...testGithubParts(db.pool, probot, { now: () => NOW, onRemaining: (n) => metrics.rateLimitRemaining.set(n) }),
      log: silentLog,
      now: () => NOW,
      intervalSeconds: 0,
      jitterSeconds: 0,
    });
    expect(sample(await scrape(), "runboard_github_rate_limit_remaining")).toBeUndefined();
    await poller.pollOnce();
    expect(listing.isDone()).toBe(true);
    expect(sample(await scrape(), "runboard_github_rate_limit_remaining")).toBe(4321);
  });

  it("reports the process's memory, and keeps serving when the database is gone", async () => {
    await db.pool.end();
    const text = await scrape();
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(sample(text, "nodejs_eventloop_delay_p99_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "runboard_metrics_database_up")).toBe(0);
    // No stale or made-up queue figures while the database does not answer.
    expect(sample(text, 'runboard_alert_queue_depth{channel="email"}')).toBeUndefined();
  });
});
