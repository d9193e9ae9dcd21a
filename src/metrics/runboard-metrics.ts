import { readFileSync } from "node:fs";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DatabasePool } from "slonik";
import { getInstallationGauges } from "../db/installations.js";
import { projectPath } from "../project-path.js";
import { readAlertQueue } from "./read-alert-queue.js";
import { addRunnerQueueMetrics } from "./runner-queue-metrics.js";

/** Where a webhook delivery ended: recorded, acknowledged without a change, or refused. */
export type WebhookOutcome = "stored" | "ignored" | "rejected" | "failed";

/**
 * Event names are a request header anyone can send before the signature is checked: only
 * these become label values, the rest count as "other", so the number of series stays bounded.
 */
const KNOWN_EVENTS = new Set(["workflow_run", "workflow_job", "installation", "installation_repositories", "ping"]);

/** Seconds: from a few milliseconds (a duplicate) to GitHub's 10 s delivery timeout and past it. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RunboardMetrics {
  /** prom-client's registry holding every metric below and the process's own. */
  registry: Registry;
  /** Every metric in Prometheus's text format, the database gauges read first. */
  render(): Promise<string>;
  /** The scrape's content type (text format 0.0.4). */
  contentType: string;
  webhookReceived(event: string | undefined): void;
  webhookHandled(event: string | undefined, outcome: WebhookOutcome, status: number, seconds: number): void;
  /** GitHub's `x-ratelimit-remaining`, set by the poller at each answer. */
  rateLimitRemaining: { set(value: number): void };
  /** Raw payloads dropped by PAYLOAD_RETENTION_DAYS, of runs or of jobs. */
  payloadsDropped(kind: "run" | "job", count: number): void;
  /** Forgets every metric. */
  close(): void;
}

/** The label value for an event header. */
export function eventLabel(event: string | undefined): string {
  return event && KNOWN_EVENTS.has(event) ? event : "other";
}

/** package.json's version, for `runboard_build_info`. */
function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as { version?: unknown };
  return typeof version === "string" ? version : "unknown";
}

/**
 * Runboard's metrics on a fresh prom-client registry: webhook counters and latency recorded as
 * requests happen; alert queue, installations and poller lag read from Postgres at each scrape
 * (so every replica reports the same shared truth); prom-client's standard process and Node.js
 * metrics (`process_*`, `nodejs_*`: memory, CPU, event loop lag, GC) under their stock names.
 */
export function createRunboardMetrics(deps: { pool: DatabasePool; now: () => Date; version?: string }): RunboardMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which promtool refuses; the same counts stay as
  // nodejs_active_handles, nodejs_active_requests and nodejs_active_resources, by type (sum them).
  for (const misnamed of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
    registry.removeSingleMetric(misnamed);
  }
  const on = { registers: [registry] };

  new Gauge({ ...on, name: "runboard_build_info", help: "Always 1; the version label says which Runboard is running.", labelNames: ["version"] })
    .set({ version: deps.version ?? packageVersion() }, 1);

  const received = new Counter({ ...on, name: "runboard_webhooks_received_total", help: "Webhook deliveries received, by event.", labelNames: ["event"] });
  const handled = new Counter({
    ...on,
    name: "runboard_webhooks_handled_total",
    help: "Webhook deliveries answered, by event, outcome (stored, ignored, rejected, failed) and HTTP status code.",
    labelNames: ["event", "outcome", "code"],
  });
  const latency = new Histogram({
    ...on,
    name: "runboard_webhook_ingest_duration_seconds",
    help: "Time from a webhook request's arrival to its response, by event.",
    labelNames: ["event"],
    buckets: LATENCY_BUCKETS,
  });
  const rateLimit = new Gauge({
    ...on,
    name: "runboard_github_rate_limit_remaining",
    help: "Requests left in the GitHub App's rate limit, as the poller last read it.",
  });
  // Absent until the poller has read one, rather than a made-up 0.
  rateLimit.remove();

  const dropped = new Counter({
    ...on,
    name: "runboard_payloads_dropped_total",
    help: "Raw payloads dropped after PAYLOAD_RETENTION_DAYS by this process, of runs and of jobs (kind).",
    labelNames: ["kind"],
  });
  // Both kinds from the start, so a rate over them is 0 rather than no data.
  for (const kind of ["run", "job"]) dropped.inc({ kind }, 0);

  const databaseUp = new Gauge({ ...on, name: "runboard_metrics_database_up", help: "1 when the database answered this scrape's queries, else 0." });
  const alertsPending = new Gauge({ ...on, name: "runboard_alert_queue_depth", help: "Alerts waiting to be sent (pending outbox rows), by channel.", labelNames: ["channel"] });
  const alertsFailed = new Gauge({ ...on, name: "runboard_alerts_failed", help: "Alerts given up on after their retries (failed rows), by channel.", labelNames: ["channel"] });
  const installations = new Gauge({ ...on, name: "runboard_installations", help: "Installations of the GitHub App, by state (active, suspended, deleted).", labelNames: ["state"] });
  const pollerLag = new Gauge({
    ...on,
    name: "runboard_poller_lag_seconds",
    help: "Seconds since the active installation synced longest ago was last synced successfully (0 without installations).",
  });

  const readRunnerQueue = addRunnerQueueMetrics(registry, deps);

  async function readDatabaseGauges(): Promise<void> {
    for (const gauge of [alertsPending, alertsFailed, installations, pollerLag]) gauge.reset();
    try {
      const [queue, sync] = await Promise.all([readAlertQueue(deps.pool), getInstallationGauges(deps.pool, deps.now())]);
      // Both channels always present, so a dashboard shows 0 rather than no data.
      for (const channel of ["email", "slack"]) {
        alertsPending.set({ channel }, queue.find((row) => row.channel === channel)?.pending ?? 0);
        alertsFailed.set({ channel }, queue.find((row) => row.channel === channel)?.failed ?? 0);
      }
      installations.set({ state: "active" }, sync.active);
      installations.set({ state: "suspended" }, sync.suspended);
      installations.set({ state: "deleted" }, sync.deleted);
      pollerLag.set(Math.max(0, sync.lag_seconds ?? 0));
      databaseUp.set(1);
    } catch {
      // The process metrics are still worth a scrape; /health says what is wrong with the database.
      databaseUp.set(0);
    }
  }

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      await Promise.all([readDatabaseGauges(), readRunnerQueue()]);
      return registry.metrics();
    },
    rateLimitRemaining: { set: (value) => rateLimit.set(value) },
    payloadsDropped(kind, count) {
      dropped.inc({ kind }, count);
    },
    webhookReceived(event) {
      received.inc({ event: eventLabel(event) });
    },
    webhookHandled(event, outcome, status, seconds) {
      handled.inc({ event: eventLabel(event), outcome, code: String(status) });
      latency.observe({ event: eventLabel(event) }, seconds);
    },
    close() {
      registry.clear();
    },
  };
}
