import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import { createAlertRoutes, type AlertRouteDeps } from "./alert-routes.js";
import { createApiRoutes } from "./api-routes.js";
import { createRunnerApiRoutes } from "./runner-api-routes.js";
import { createRunnerRoutes } from "./runner-routes.js";
import type { RunnerMultiplier } from "../domain/runner-minutes.js";
import { createHealthRoute } from "./health-route.js";
import { createAssetRoutes } from "./asset-routes.js";
import { createEventRoutes } from "./event-routes.js";
import type { LiveHub } from "./live-hub.js";
import { createPageRoutes } from "./page-routes.js";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { createAuth, type Auth } from "./auth/create-auth.js";
import { rateLimit, tokenOrAddress } from "./auth/rate-limit.js";
import { createSetupRoutes, type SetupDeps } from "./setup-routes.js";
import { viewerOf } from "./auth/access.js";
import { createSlackApp, type SlackAppDeps } from "../slack/create-slack-app.js";
import { createSlackLinkRoute } from "../slack/link-route.js";
import type { RunboardMetrics } from "../metrics/runboard-metrics.js";
import { createMetricsRoute } from "./metrics-route.js";
import { createGithubClients, type GithubClients } from "../github/github-clients.js";

export interface ServerDeps {
  pool: DatabasePool;
  log: Logger;
  /** Public address, for links and the API description. */
  baseUrl: string;
  /** Where webhooks arrive (served before this app, by the Node listener): public, no CSRF. */
  webhookPath: string;
  /** The GitHub App, or null while none is configured. */
  getProbot: () => Probot | null;
  /** GitHub's clients (re-runs from Slack); default: built on `getProbot`. */
  github?: GithubClients;
  now: () => Date;
  /** An installation whose last sync is older than this shows as behind. */
  syncStaleAfterMs: number;
  /** Live updates for open dashboards; null leaves them on their periodic refresh. */
  live: LiveHub | null;
  /** The alert channels as configured, for the test alert. */
  alerts: Omit<AlertRouteDeps, "pool">;
  /** Login, tokens and CSRF; default: no login, no API token (open, as on loopback). */
  auth?: Auth;
  /** "Connect to GitHub" (/setup); absent: not served. */
  setup?: SetupDeps;
  /** The Slack bot's settings; default: not configured (/slack/events answers 503). */
  slackBot?: Pick<SlackAppDeps, "signingSecret" | "botToken" | "alertChannel" | "apiUrl" | "slack">;
  /** `GET /metrics`; without it, not served. */
  metrics?: RunboardMetrics;
  /** Demo mode (`npm run demo`): the pages say the data is made up. */
  demo?: boolean;
  /** Larger runners' multipliers (RUNNER_MULTIPLIERS), for estimated minutes. */
  runnerMultipliers?: RunnerMultiplier[];
  /** PAYLOAD_RETENTION_DAYS (null: kept for ever), for the build page's note on a dropped payload. */
  payloadRetentionDays?: number | null;
}

const slackDefaults = { signingSecret: null, botToken: null, alertChannel: null, apiUrl: "https://slack.com/api/", slack: null };

/**
 * The HTTP surface behind the webhook endpoint, on one Hono app: health, login, JSON API, pages,
 * Slack. Webhooks never reach it: the Node listener in front answers them (webhook-listener.ts).
 */
export function createServer(deps: ServerDeps): Hono {
  const app = new Hono();
  const github = deps.github ?? createGithubClients({ getProbot: deps.getProbot, log: deps.log });

  // Every response: a strict Content Security Policy (scripts only with this request's nonce,
  // no inline styles, no eval, no framing) and the usual hardening headers.
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: [NONCE],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: "same-origin",
      crossOriginEmbedderPolicy: false,
      // A page that needs a wider policy sets its own (/setup posts a form to GitHub).
      overwrite: false,
    }),
  );

  // Everything after this line knows who is asking (see auth/access.ts).
  const auth =
    deps.auth ??
    createAuth({
      pool: deps.pool,
      log: deps.log,
      now: deps.now,
      baseUrl: deps.baseUrl,
      webhookPath: deps.webhookPath,
      apiToken: null,
      secretKey: null,
      secretBox: null,
      endpoints: { webUrl: "https://github.com", apiUrl: "https://api.github.com" },
      getOAuthClient: () => null,
    });
  app.use(auth.middleware);
  app.use(auth.csrf);
  app.use(
    "/api/*",
    rateLimit({
      windowMs: 60_000,
      max: 1_200,
      key: tokenOrAddress,
    }),
  );
  app.route("/", auth.routes);
  if (deps.setup) app.route("/", createSetupRoutes(deps.setup));
  app.route("/", createHealthRoute(deps));
  if (deps.metrics) app.route("/", createMetricsRoute({ metrics: deps.metrics }));
  app.route("/api", createApiRoutes(deps));
  app.route("/api", createRunnerApiRoutes({ ...deps, runnerMultipliers: deps.runnerMultipliers ?? [] }));
  app.route("/api", createAlertRoutes({ pool: deps.pool, ...deps.alerts }));
  app.route("/", createAssetRoutes());
  app.route(
    "/",
    createSlackApp({ ...slackDefaults, ...deps.slackBot, pool: deps.pool, log: deps.log, now: deps.now, baseUrl: deps.baseUrl, github, runnerMultipliers: deps.runnerMultipliers }),
  );
  app.route("/", createSlackLinkRoute({ pool: deps.pool, now: deps.now, getViewer: async (c) => viewerOf(c) }));
  if (deps.live) app.route("/", createEventRoutes({ live: deps.live }));
  app.route("/", createPageRoutes(deps));
  app.route("/", createRunnerRoutes({ ...deps, runnerMultipliers: deps.runnerMultipliers ?? [] }));

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      if (error.res) return error.res;
      return c.req.path.startsWith("/api/") || !c.req.header("accept")?.includes("text/html")
        ? c.json({ error: error.message }, error.status)
        : c.html(`<!DOCTYPE html><title>${error.status}</title><p>${error.status === 404 ? "Not found." : "Request refused."}</p><p><a href="/">Runboard</a></p>`, error.status);
    }
    deps.log.error({ err: error, method: c.req.method, path: c.req.path }, "request failed");
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
