import { performance } from "node:perf_hooks";
import type { MiddlewareHandler } from "hono";
import { INGEST_OUTCOME } from "../github/webhook-route.js";
import type { RunboardMetrics, WebhookOutcome } from "./runboard-metrics.js";

/** Events the Runboard app records itself when they reach Probot (installation state). */
const RECORDED_THROUGH_PROBOT = new Set(["installation", "installation_repositories"]);

/**
 * Webhook metrics: a middleware on the webhook path counts and times each delivery, and reads
 * whether a workflow delivery was stored or changed nothing from what the route left in the
 * request's context.
 */
export function createWebhookMetrics(metrics: RunboardMetrics): { middleware: MiddlewareHandler } {
  return {
    middleware: async (c, next) => {
      if (c.req.method !== "POST") return next();
      const started = performance.now();
      const event = c.req.header("x-github-event");
      metrics.webhookReceived(event);
      await next();
      const status = c.res.status;
      const recorded = c.get(INGEST_OUTCOME as never) as "stored" | "ignored" | undefined;
      let outcome: WebhookOutcome;
      if (status >= 500) outcome = "failed";
      else if (status >= 400) outcome = "rejected";
      else outcome = recorded ?? (event && RECORDED_THROUGH_PROBOT.has(event) ? "stored" : "ignored");
      metrics.webhookHandled(event, outcome, status, (performance.now() - started) / 1000);
    },
  };
}
