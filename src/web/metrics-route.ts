import { Hono } from "hono";
import type { MetricsRegistry } from "../metrics/registry.js";

/** GET /metrics: every metric in Prometheus's text format, for a scraper. */
export function createMetricsRoute(deps: { registry: MetricsRegistry }): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const body = await deps.registry.render();
    c.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("cache-control", "no-store");
    return c.body(body);
  });
  return app;
}
