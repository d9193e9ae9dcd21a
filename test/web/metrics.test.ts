import { spawnSync } from "node:child_process";
import type { Hono } from "hono";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createProbot } from "../../src/github/create-probot.js";
import { createWorkflowEventHandler } from "../../src/github/handle-workflow-event.js";
import { createPoller } from "../../src/github/poller.js";
import { createRunboardApp } from "../../src/github/runboard-app.js";
import { createIngest } from "../../src/ingest.js";
import { createRunboardMetrics, type RunboardMetrics } from "../../src/metrics/runboard-metrics.js";
import { createServer } from "../../src/web/create-server.js";
import { deliver, silentLog, testConfig, testGithubParts, TestOctokit, withWebhooks } from "../helpers/github-app.js";
import { readFileSync } from "node:fs";
import { projectPath } from "../../src/project-path.js";
import { createWebhookReceiver } from "../../src/github/receive-webhook.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

/** promtool (Debian's `prometheus` package) checks the scrape where it is installed; .ci/run installs it. */
const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^\\"\n])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$/;

/** Lines of a scrape that break the text format 0.0.4: stray text, or a sample of no declared family. */
function formatProblems(text: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  if (!text.endsWith("\n")) problems.push("no final line break");
  for (const line of text.split("\n").slice(0, -1)) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (types.has(type[1]!)) problems.push(`${type[1]} declared twice`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    // Empty lines are allowed between families.
    if (line === "" || /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) {
      problems.push(`not a sample: ${line}`);
      continue;
    }
    const name = sample[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((n) => types.has(n));
    if (!family) problems.push(`sample of an undeclared family: ${line}`);
  }
  return problems;
}

const NOW = new Date("2026-08-10T12:00:00Z");

/** The value of one sample line (`name{labels} value`) in a scrape, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

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
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="stored",code="200"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="ignored",code="200"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="workflow_run",outcome="rejected",code="401"}')).toBe(1);
    expect(sample(text, 'runboard_webhooks_handled_total{event="other",outcome="ignored",code="200"}')).toBe(1);
    expect(text).not.toContain("evil");
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_count{event="workflow_run"}')).toBe(3);
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_bucket{le="+Inf",event="workflow_run"}')).toBe(3);
    expect(sample(text, 'runboard_webhook_ingest_duration_seconds_sum{event="workflow_run"}')).toBeGreaterThan(0);
  });

  it("scrapes as valid Prometheus text with the stock process and Node.js names and the build's version", async () => {
    const run = workflowExamples().find((e) => e.event === "workflow_run")!;
    await deliver(app, { event: "workflow_run", payload: run.payload });
    const text = await scrape();
    // The npm parser throws on a malformed sample; it lets a stray line or a sample of an
    // undeclared family pass, so every line is also held to the format's grammar here.
    const families = parsePrometheusTextFormat(text);
    expect(formatProblems(text)).toEqual([]);
    const names = new Set(families.map((family) => family.name));
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_gc_duration_seconds",
      "runboard_build_info",
      "runboard_webhooks_handled_total",
      "runboard_webhook_ingest_duration_seconds",
      "runboard_alert_queue_depth",
    ]) {
      expect(names, name).toContain(name);
    }
    const version = (JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as { version: string }).version;
    expect(sample(text, `runboard_build_info{version="${version}"}`)).toBe(1);
    // The checker itself catches what it is there for.
    expect(formatProblems("# TYPE a gauge\nb 1\ngarbage\n")).toEqual(["sample of an undeclared family: b 1", "not a sample: garbage"]);
    for (const family of families) expect(["COUNTER", "GAUGE", "HISTOGRAM", "SUMMARY", "UNTYPED"]).toContain(family.type);
  });

  it.runIf(hasPromtool)("passes promtool check metrics", async () => {
    const run = workflowExamples().find((e) => e.event === "workflow_run")!;
    await deliver(app, { event: "workflow_run", payload: run.payload });
    const checked = spawnSync("promtool", ["check", "metrics"], { input: await scrape(), encoding: "utf8" });
    expect(checked.stderr + checked.stdout).toBe("");
    expect(checked.status).toBe(0);
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
    expect(sample(text, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "runboard_metrics_database_up")).toBe(0);
    // No stale or made-up queue figures while the database does not answer.
    expect(sample(text, 'runboard_alert_queue_depth{channel="email"}')).toBeUndefined();
  });
});
