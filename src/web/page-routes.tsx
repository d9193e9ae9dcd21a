import { Hono } from "hono";
import { html } from "hono/html";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import { AlertsPage } from "../../views/alerts-page.js";
import { OverviewPage } from "../../views/overview-page.js";
import { getAlertRules } from "../db/alert-settings.js";
import { listAlerts } from "../db/alerts.js";
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
  app.get("/alerts", async (c) => {
    const [history, rules] = await Promise.all([listAlerts(deps.pool, { limit: 100, offset: 0 }), getAlertRules(deps.pool)]);
    return c.html(html`<!DOCTYPE html>${(<AlertsPage alerts={history.alerts} total={history.total} rules={rules} />)}`);
  });

  return app;
}
