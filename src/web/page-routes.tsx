import { Hono } from "hono";
import { html } from "hono/html";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import { OverviewPage } from "../../views/overview-page.js";
import { getMetricsSummary } from "../db/build-metrics.js";
import { listBuilds } from "../db/builds.js";

/** The HTML pages. */
export function createPageRoutes(deps: { pool: DatabasePool; now: () => Date; getProbot: () => Probot | null }): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const [summary, recent] = await Promise.all([
      getMetricsSummary(deps.pool, { days: 7, now: deps.now() }),
      listBuilds(deps.pool, {}, { limit: 25, offset: 0 }),
    ]);
    return c.html(
      html`<!DOCTYPE html>${(
        <OverviewPage summary={summary} builds={recent.builds} githubConfigured={deps.getProbot() !== null} />
      )}`,
    );
  });
  return app;
}
