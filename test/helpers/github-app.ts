import { generateKeyPairSync, randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { Hono } from "hono";
import pino from "pino";
import { ProbotOctokit, type Probot } from "probot";
import type { AlertingContext } from "../../src/alerts/queue-alerts.js";
import { createIngest } from "../../src/ingest.js";
import type { DatabasePool } from "slonik";
import { loadConfig, type Config } from "../../src/config.js";
import { createProbot } from "../../src/github/create-probot.js";
import { createGithubClients } from "../../src/github/github-clients.js";
import { createRunLister } from "../../src/github/list-runs.js";
import { createWorkflowEventHandler } from "../../src/github/handle-workflow-event.js";
import { createRunboardApp } from "../../src/github/runboard-app.js";
import { BodyTooLargeError, createWebhookReceiver, MAX_WEBHOOK_BODY_BYTES, type WebhookReceiver } from "../../src/github/receive-webhook.js";
import { createServer, type ServerDeps } from "../../src/web/create-server.js";

export const WEBHOOK_SECRET = "test-webhook-secret-8f3a";

let privateKey: string | undefined;
/** A real RSA key, made once per test file, so Probot can sign app tokens. */
export function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }) as string;
  return privateKey;
}

/** Probot's Octokit with retries and throttling off, as tests want. */
export const TestOctokit = ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } });

/** A configuration as `loadConfig` reads it, for a registered app on loopback. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    APP_ID: "12345",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET,
    LOG_LEVEL: "silent",
    PORT: "0",
    // GitHub is not reachable from tests: the poller is driven by hand where it is tested.
    POLL_INTERVAL_SECONDS: "0",
    // Nor imports history, unless a test asks.
    BACKFILL_DAYS: "0",
    ...env,
  });
}

export const silentLog = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/**
 * What the poller and the history import need, as `start()` builds them: the owner of GitHub
 * clients for `probot` and a run lister writing through a real ingest.
 */
export function testGithubParts(pool: DatabasePool, probot: Probot, options: { now?: () => Date; sleep?: (ms: number) => Promise<void>; onRemaining?: (n: number) => void } = {}) {
  const now = options.now ?? (() => new Date());
  const github = createGithubClients({ getProbot: () => probot, log: silentLog, sleep: options.sleep, onRemaining: options.onRemaining });
  const ingest = createIngest({ pool, alerting: { email: null, slack: null, now, sendDelayMs: 0 } });
  return { github, lister: createRunLister({ pool, ingest, log: silentLog }), ingest };
}

export interface TestServerOptions {
  now?: () => Date;
  /** Alert channels for the ingest decision; default: none configured. */
  alerting?: Partial<AlertingContext>;
  /** Alert channels for the API's test alert; default: none configured. */
  alerts?: Partial<ServerDeps["alerts"]>;
  live?: ServerDeps["live"];
  /** false: no GitHub App, as before one is configured. */
  githubApp?: boolean;
  /** Login, tokens and CSRF; default: none configured (open). */
  auth?: ServerDeps["auth"];
  /** The Slack bot; default: not configured. */
  slackBot?: ServerDeps["slackBot"];
  /** Larger runners' multipliers (RUNNER_MULTIPLIERS); default: none. */
  runnerMultipliers?: ServerDeps["runnerMultipliers"];
  /** PAYLOAD_RETENTION_DAYS, for the build page's note; default: none. */
  payloadRetentionDays?: ServerDeps["payloadRetentionDays"];
}

/** The GitHub App's parts as `start()` builds them: the webhook handler and Probot. */
async function createTestGithubApp(pool: DatabasePool, options: TestServerOptions) {
  const config = testConfig();
  const now = options.now ?? (() => new Date());
  const ingest = createIngest({ pool, alerting: { email: null, slack: null, now, sendDelayMs: 0, ...options.alerting } });
  const handleWorkflowEvent = createWorkflowEventHandler({ ingest });
  let probot: Probot | null = null;
  if (options.githubApp !== false) {
    probot = createProbot(config.github!, silentLog, TestOctokit);
    await probot.load(createRunboardApp({ pool, now }));
  }
  return { config, now, handleWorkflowEvent, probot };
}

/** The webhook receiver of a test server, to serve outside Hono as `start()` does. */
export async function createTestWebhookReceiver(pool: DatabasePool, options: TestServerOptions = {}): Promise<WebhookReceiver> {
  const { handleWorkflowEvent, probot } = await createTestGithubApp(pool, options);
  return createWebhookReceiver({ getProbot: () => probot, handleWorkflowEvent, log: silentLog });
}

/**
 * The webhook receiver and the Hono app on one Hono app, for `app.request()`: in production the
 * Node listener (webhook-listener.ts, tested on a real socket) puts the receiver in front of Hono;
 * here a route does, reading the body whole.
 */
export function withWebhooks(server: Hono, path: string, receive: WebhookReceiver): Hono {
  const app = new Hono();
  app.post(path, async (c) => {
    const readBody = async () => {
      const text = await c.req.text();
      if (Buffer.byteLength(text) > MAX_WEBHOOK_BODY_BYTES) throw new BodyTooLargeError();
      return text;
    };
    const answer = await receive({ header: (name) => c.req.header(name), readBody });
    return c.json(answer.body, answer.status as 200);
  });
  // Everything else is the server's own, its not-found and error answers included.
  app.all("*", (c) => server.fetch(c.req.raw, c.env));
  return app;
}

/** The real server (webhooks, API, pages) on a test database, with a configured GitHub App. */
export async function createTestServer(pool: DatabasePool, options: TestServerOptions = {}): Promise<Hono> {
  const { config, now, handleWorkflowEvent, probot } = await createTestGithubApp(pool, options);
  const server = createServer({
    pool,
    log: silentLog,
    webhookPath: config.webhookPath,
    getProbot: () => probot,
    now,
    alerts: { baseUrl: "http://runboard.test", email: null, slack: null, ...options.alerts },
    live: options.live ?? null,
    baseUrl: "http://runboard.test",
    syncStaleAfterMs: 600_000,
    auth: options.auth,
    slackBot: options.slackBot,
    runnerMultipliers: options.runnerMultipliers,
    payloadRetentionDays: options.payloadRetentionDays,
  });
  return withWebhooks(server, config.webhookPath, createWebhookReceiver({ getProbot: () => probot, handleWorkflowEvent, log: silentLog }));
}

export interface Delivery {
  event: string;
  payload: unknown;
  id?: string;
  /** Raw body to send instead of the JSON of `payload`. */
  body?: string;
  secret?: string;
  headers?: Record<string, string | null>;
}

/** POSTs a delivery signed with the webhook secret, as GitHub does. */
export async function deliver(app: Hono, delivery: Delivery): Promise<Response> {
  const body = delivery.body ?? JSON.stringify(delivery.payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-delivery": delivery.id ?? randomUUID(),
    "x-github-event": delivery.event,
    "x-hub-signature-256": await sign(delivery.secret ?? WEBHOOK_SECRET, body),
  };
  for (const [name, value] of Object.entries(delivery.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return app.request("/api/github/webhooks", { method: "POST", headers, body });
}
