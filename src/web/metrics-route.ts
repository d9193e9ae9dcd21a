import { Hono } from "hono";
import type { RunboardMetrics } from "../metrics/runboard-metrics.js";

/** GET /metrics: every metric in Prometheus's text format, for a scraper. */
export function createMetricsRoute(deps: { metrics: Pick<RunboardMetrics, "render" | "contentType"> }): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const body = await deps.metrics.render();
    c.header("content-type", deps.metrics.contentType);
    c.header("cache-control", "no-store");
    return c.body(body);
  });
  return app;
}
