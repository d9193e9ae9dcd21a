import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import { createWebhookRoute } from "../github/webhook-route.js";
import { createAlertRoutes, type AlertRouteDeps } from "./alert-routes.js";
import { createApiRoutes } from "./api-routes.js";
import { createHealthRoute } from "./health-route.js";
import { createPageRoutes } from "./page-routes.js";

export interface ServerDeps {
  pool: DatabasePool;
  log: Logger;
  webhookPath: string;
  /** The GitHub App, or null while none is configured. */
  getProbot: () => Probot | null;
  now: () => Date;
  /** The alert channels as configured, for the test alert. */
  alerts: Omit<AlertRouteDeps, "pool">;
}

/** The whole HTTP surface on one Hono app: webhooks, health, JSON API and pages. */
export function createServer(deps: ServerDeps): Hono {
  const app = new Hono();

  app.route("/", createWebhookRoute({ path: deps.webhookPath, getProbot: deps.getProbot, log: deps.log }));
  app.route("/", createHealthRoute(deps));
  app.route("/api", createApiRoutes(deps));
  app.route("/api", createAlertRoutes({ pool: deps.pool, ...deps.alerts }));
  app.route("/", createPageRoutes(deps));

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return error.res ?? c.json({ error: error.message }, error.status);
    }
    deps.log.error({ err: error, method: c.req.method, path: c.req.path }, "request failed");
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
