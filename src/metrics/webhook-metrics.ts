import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import type { MiddlewareHandler } from "hono";
import type { WorkflowEventHandler } from "../github/handle-workflow-event.js";
import type { RunboardMetrics, WebhookOutcome } from "./runboard-metrics.js";

/** Events the Runboard app records itself when they reach Probot (installation state). */
const RECORDED_THROUGH_PROBOT = new Set(["installation", "installation_repositories"]);

interface DeliveryState {
  /** Set by the workflow handler: whether the delivery changed what is stored. */
  outcome?: "stored" | "ignored";
}

/**
 * Webhook metrics without touching the webhook route: a middleware on its path counts and
 * times each delivery, and a wrapper around the workflow handler tells it, through the
 * request's async context, whether the delivery was stored or changed nothing.
 */
export function createWebhookMetrics(metrics: RunboardMetrics): {
  middleware: MiddlewareHandler;
  wrap(handler: WorkflowEventHandler): WorkflowEventHandler;
} {
  const deliveries = new AsyncLocalStorage<DeliveryState>();
  return {
    middleware: async (c, next) => {
      if (c.req.method !== "POST") return next();
      const started = performance.now();
      const event = c.req.header("x-github-event");
      metrics.webhookReceived(event);
      const state: DeliveryState = {};
      await deliveries.run(state, next);
      const status = c.res.status;
      let outcome: WebhookOutcome;
      if (status >= 500) outcome = "failed";
      else if (status >= 400) outcome = "rejected";
      else outcome = state.outcome ?? (event && RECORDED_THROUGH_PROBOT.has(event) ? "stored" : "ignored");
      metrics.webhookHandled(event, outcome, status, (performance.now() - started) / 1000);
    },
    wrap(handler) {
      return async (event, log) => {
        const result = await handler(event, log);
        const state = deliveries.getStore();
        if (state) state.outcome = result?.outcome === "changed" ? "stored" : "ignored";
        return result;
      };
    },
  };
}
