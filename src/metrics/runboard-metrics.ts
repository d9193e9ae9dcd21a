import type { DatabasePool } from "slonik";
import { getInstallationGauges } from "../db/installations.js";
import { readAlertQueue } from "./read-alert-queue.js";
import { addProcessMetrics } from "./process-metrics.js";
import { addRunnerQueueMetrics } from "./runner-queue-metrics.js";
import { createMetricsRegistry, type Gauge, type MetricsRegistry } from "./registry.js";

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
  registry: MetricsRegistry;
  webhookReceived(event: string | undefined): void;
  webhookHandled(event: string | undefined, outcome: WebhookOutcome, status: number, seconds: number): void;
  /** GitHub's `x-ratelimit-remaining`, set by the poller at each answer. */
  rateLimitRemaining: Gauge;
  /** Stops the event loop monitor. */
  close(): void;
}

/** The label value for an event header. */
export function eventLabel(event: string | undefined): string {
  return event && KNOWN_EVENTS.has(event) ? event : "other";
}

/**
 * Runboard's metrics on a fresh registry: webhook counters and latency recorded as requests
 * happen; alert queue, installations and poller lag read from Postgres at each scrape (so
 * every replica reports the same shared truth); process memory and event loop delay.
 */
export function createRunboardMetrics(deps: { pool: DatabasePool; now: () => Date }): RunboardMetrics {
  const registry = createMetricsRegistry();

  const received = registry.counter("runboard_webhooks_received_total", "Webhook deliveries received, by event.");
  const handled = registry.counter(
    "runboard_webhooks_handled_total",
    "Webhook deliveries answered, by event, outcome (stored, ignored, rejected, failed) and HTTP status.",
  );
  const latency = registry.histogram(
    "runboard_webhook_ingest_duration_seconds",
    "Time from a webhook request's arrival to its response, by event.",
    LATENCY_BUCKETS,
  );
  const rateLimit = registry.gauge(
    "runboard_github_rate_limit_remaining",
    "Requests left in the GitHub App's rate limit, as the poller last read it.",
  );

  const databaseUp = registry.gauge("runboard_metrics_database_up", "1 when the database answered this scrape's queries, else 0.");
  const alertsPending = registry.gauge("runboard_alert_queue_depth", "Alerts waiting to be sent (pending outbox rows), by channel.");
  const alertsFailed = registry.gauge("runboard_alerts_failed", "Alerts given up on after their retries (failed rows), by channel.");
  const installations = registry.gauge("runboard_installations", "Installations of the GitHub App, by state (active, suspended, deleted).");
  const pollerLag = registry.gauge(
    "runboard_poller_lag_seconds",
    "Seconds since the active installation synced longest ago was last synced successfully (0 without installations).",
  );
  registry.onScrape(async () => {
    for (const gauge of [alertsPending, alertsFailed, installations]) gauge.reset();
    try {
      const [queue, sync] = await Promise.all([readAlertQueue(deps.pool), getInstallationGauges(deps.pool, deps.now())]);
      // Both channels always present, so a dashboard shows 0 rather than no data.
      for (const channel of ["email", "slack"]) {
        alertsPending.set(queue.find((row) => row.channel === channel)?.pending ?? 0, { channel });
        alertsFailed.set(queue.find((row) => row.channel === channel)?.failed ?? 0, { channel });
      }
      installations.set(sync.active, { state: "active" });
      installations.set(sync.suspended, { state: "suspended" });
      installations.set(sync.deleted, { state: "deleted" });
      pollerLag.set(Math.max(0, sync.lag_seconds ?? 0));
      databaseUp.set(1);
    } catch {
      // The process metrics are still worth a scrape; /health says what is wrong with the database.
      databaseUp.set(0);
    }
  });

  addRunnerQueueMetrics(registry, deps);
  const stopProcessMetrics = addProcessMetrics(registry);

  return {
    registry,
    rateLimitRemaining: rateLimit,
    webhookReceived(event) {
      received.inc({ event: eventLabel(event) });
    },
    webhookHandled(event, outcome, status, seconds) {
      handled.inc({ event: eventLabel(event), outcome, status: String(status) });
      latency.observe(seconds, { event: eventLabel(event) });
    },
    close() {
      stopProcessMetrics();
    },
  };
}
