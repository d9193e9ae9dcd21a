import type { AddressInfo } from "node:net";
import { createServer as createHttpServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { DatabasePool } from "slonik";
import type { Config } from "./config.js";
import { createPool } from "./db/create-pool.js";
import { migrate } from "./db/migrate.js";
import { openDatabase } from "./db/open-database.js";
import { createGithubAppHolder } from "./github/github-app-holder.js";
import { createWorkflowEventHandler } from "./github/handle-workflow-event.js";
import { createRunboardApp } from "./github/runboard-app.js";
import { createCheckRunPublisher } from "./github/check-run-publisher.js";
import { createFailureReader } from "./github/failure-reader.js";
import { createPoller } from "./github/poller.js";
import { createGithubClients } from "./github/github-clients.js";
import { createHistoryImport } from "./github/history-import.js";
import { createFailedDeliveryRedeliverer } from "./github/redeliver-failed.js";
import { createRunLister } from "./github/list-runs.js";
import { createIngest, type Ingest } from "./ingest.js";
import { createAlertWorker, type RetryPolicy } from "./alerts/alert-worker.js";
import { createRollupWorker } from "./rollup-worker.js";
import { createQueueTimeAlerts } from "./alerts/queue-time-alerts.js";
import { createDigests, type Digests } from "./alerts/digests.js";
import { createEmailSender } from "./alerts/email-sender.js";
import { createSlackClient } from "./alerts/slack-client.js";
import { createServer } from "./web/create-server.js";
import { createWebhookReceiver } from "./github/receive-webhook.js";
import { createWebhookListener } from "./github/webhook-listener.js";
import { withAccessLog } from "./web/access-log.js";
import { createLiveHub } from "./web/live-hub.js";
import { createAuth, isLoopbackHost } from "./web/auth/create-auth.js";
import { createSecretBox } from "./domain/secret-box.js";
import { createRunboardMetrics } from "./metrics/runboard-metrics.js";
import { createPayloadRetention } from "./payload-retention.js";

export interface StartOptions {
  config: Config;
  log: Logger;
  now?: () => Date;
  /** Tests pass an Octokit with retries and throttling off. */
  Octokit?: typeof ProbotOctokit;
  /** Tests shorten the alert worker's timings. */
  alertTimings?: { intervalMs: number; sendDelayMs: number; retry: RetryPolicy };
}

export interface RunningRunboard {
  /** http://host:port of the listening server. */
  url: string;
  pool: DatabasePool;
  connectionUri: string;
  /** The digest schedule's fire and sender (null when DIGEST_SCHEDULE is empty): tests fire it without waiting for the clock. */
  digests: Digests | null;
  /** Stops everything in the reverse order of start. */
  stop(): Promise<void>;
}

/**
 * Starts Runboard, in this order (each step is a function below):
 * 1. the database: open it (DATABASE_URL, or embedded PostgreSQL in DATA_DIR), migrate, connect
 * 2. metrics and the senders (SMTP, Slack)
 * 3. the write path every delivery takes
 * 4. the GitHub App (the environment's, else one stored by "Connect to GitHub") and the one owner
 *    of its API clients
 * 5. HTTP: login, live updates, webhooks and the dashboard; listen
 * 6. the workers: alert delivery, check runs, the poller, the history import, queue-time alerts,
 *    the rollups' backfill and clean-up, digests, payload retention
 *
 * `stop()` first stops accepting connections and lets requests in flight finish (a delivery
 * being stored still gets its answer), then stops the workers, then closes the database.
 */
export async function start(options: StartOptions): Promise<RunningRunboard> {
  const { config, log } = options;
  const now = options.now ?? (() => new Date());
  const stack: Stack = [];
  let closeHttp: (() => Promise<void>) | null = null;
  const stop = async () => {
    // HTTP first: the workers and the pool are still there for the requests that finish.
    const http = closeHttp;
    closeHttp = null;
    await http?.().catch((error: unknown) => log.error({ err: error }, "error while stopping the HTTP server"));
    for (const close of stack.reverse()) {
      await close().catch((error: unknown) => log.error({ err: error }, "error while stopping"));
    }
    stack.length = 0;
  };

  try {
    const database = await openStorage(options, stack); // 1
    const outside = createOutside(options, database, stack, now); // 2
    // 3. One write path: webhooks, the poller and the history import all store through it.
    const ingest = createIngest({
      pool: database.pool,
      alerting: {
        email: config.email ? { to: config.email.to } : null,
        slack: outside.slack ? { channel: config.slack.alertChannel } : null,
        now,
        sendDelayMs: options.alertTimings?.sendDelayMs ?? 5_000,
      },
    });
    const github = await loadGithubApp(options, database, outside, now); // 4
    const http = await listenHttp(options, { database, outside, github, ingest, now }); // 5
    closeHttp = http.close;
    const { digests } = startWorkers(options, { database, outside, github, ingest, now }, stack); // 6
    return { url: http.url, pool: database.pool, connectionUri: database.connectionUri, digests, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What start() builds up, closed in reverse order by stop(). */
type Stack = Array<() => Promise<void>>;

interface Storage {
  pool: DatabasePool;
  connectionUri: string;
  mode: string;
}

/** 1. Opens the database, migrates it and connects the pool. */
async function openStorage({ config, log }: StartOptions, stack: Stack): Promise<Storage> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
  stack.push(() => database.close());
  await migrate({ connectionUri: database.connectionUri, log });
  const pool = await createPool(database.connectionUri);
  stack.push(() => pool.end());
  return { pool, connectionUri: database.connectionUri, mode: database.mode };
}

/** 2. Metrics and the clients of the outside world other than GitHub. */
function createOutside({ config }: StartOptions, database: Storage, stack: Stack, now: () => Date) {
  const metrics = createRunboardMetrics({ pool: database.pool, now });
  stack.push(async () => metrics.close());
  const email = config.email ? createEmailSender({ smtpUrl: config.email.smtpUrl, from: config.email.from }) : null;
  if (email) stack.push(async () => email.close());
  const slack = config.slack.botToken ? createSlackClient({ token: config.slack.botToken, apiUrl: config.slack.apiUrl }) : null;
  return { metrics, email, slack };
}
type Outside = ReturnType<typeof createOutside>;

/** 4. Loads the GitHub App; everything that calls GitHub goes through one owner of its clients and rate limits. */
async function loadGithubApp({ config, log, Octokit }: StartOptions, database: Storage, outside: Outside, now: () => Date) {
  const holder = createGithubAppHolder({ pool: database.pool, config, log, app: createRunboardApp({ pool: database.pool, now }), Octokit });
  await holder.load();
  const clients = createGithubClients({
    // Demo mode: the app is made up, so its workers (check runs, poller, history) find none and wait.
    getProbot: () => (config.demo ? null : holder.probot()),
    log,
    onRemaining: (remaining) => outside.metrics.rateLimitRemaining.set(remaining),
  });
  return { holder, clients };
}

interface Parts {
  database: Storage;
  outside: Outside;
  github: Awaited<ReturnType<typeof loadGithubApp>>;
  ingest: Ingest;
  now: () => Date;
}

/** 5. Login, live updates, the one way in for webhooks and the dashboard, listening on HOST:PORT. */
async function listenHttp({ config, log }: StartOptions, { database, outside, github, ingest, now }: Parts) {
  const { pool } = database;
  const { holder } = github;
  const auth = createAuth({
    pool,
    log,
    now,
    baseUrl: config.baseUrl,
    webhookPath: config.webhookPath,
    apiToken: config.apiToken,
    secretKey: config.secretKey,
    secretBox: config.secretKey ? createSecretBox(config.secretKey, "runboard user tokens") : null,
    endpoints: { webUrl: config.githubWebUrl, apiUrl: config.githubApiBaseUrl },
    getOAuthClient: () => holder.oauth(),
  });
  assertSafeToListen({ host: config.host, loginConfigured: auth.loginConfigured(), trustProxyAuth: config.trustProxyAuth });

  const live = createLiveHub({ connectionUri: database.connectionUri, pool, log });
  // The one way in for webhooks: the Node listener in front of Hono hands them to this receiver.
  const receiveWebhook = createWebhookReceiver({
    getProbot: () => holder.probot(),
    refreshApp: () => holder.refresh(),
    handleWorkflowEvent: createWorkflowEventHandler({ ingest }),
    log,
    metrics: outside.metrics,
  });
  const { email, slack } = outside;
  const app = createServer({
    auth,
    live,
    metrics: outside.metrics,
    baseUrl: config.baseUrl,
    demo: config.demo,
    runnerMultipliers: config.runnerMultipliers,
    payloadRetentionDays: config.payloadRetentionDays,
    // Behind: three polls missed (ten minutes when polling is off and only backfills sync).
    syncStaleAfterMs: (config.poll.intervalSeconds > 0 ? 3 * (config.poll.intervalSeconds + config.poll.jitterSeconds) : 600) * 1000,
    pool,
    log,
    webhookPath: config.webhookPath,
    getProbot: () => holder.probot(),
    github: github.clients,
    now,
    setup: {
      holder,
      log,
      baseUrl: config.baseUrl,
      webhookPath: config.webhookPath,
      githubWebUrl: config.githubWebUrl,
      githubApiBaseUrl: config.githubApiBaseUrl,
    },
    slackBot: {
      signingSecret: config.slack.signingSecret,
      botToken: config.slack.botToken,
      alertChannel: config.slack.alertChannel,
      apiUrl: config.slack.apiUrl,
      slack,
    },
    alerts: {
      baseUrl: config.baseUrl,
      email: email && config.email ? { sender: email, to: config.email.to } : null,
      slack: slack ? { client: slack, channel: config.slack.alertChannel } : null,
    },
  });
  const server = createHttpServer(
    withAccessLog(createWebhookListener({ path: config.webhookPath, receive: receiveWebhook, next: getRequestListener(app.fetch), log }), log),
  );
  await listen(server, config.port, config.host).catch(async (error: unknown) => {
    await live.close();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, database: database.mode, webhookPath: config.webhookPath }, "Runboard is listening");
  return {
    url,
    close: async () => {
      const closed = close(server);
      // Open dashboards' event streams never end on their own: end them so the server drains.
      await live.close();
      await closed;
    },
  };
}

/** 6. The workers: each starts now and is stopped by stop(), before the pool closes. */
function startWorkers(options: StartOptions, { database, outside, github, ingest, now }: Parts, stack: Stack): { digests: Digests | null } {
  const { config, log } = options;
  const { pool, connectionUri } = database;
  const clients = github.clients;
  const lister = createRunLister({ pool, ingest, log });
  const digests = config.digest
    ? createDigests({
        pool,
        log,
        now,
        schedule: config.digest,
        baseUrl: config.baseUrl,
        multipliers: config.runnerMultipliers,
        email: outside.email && config.email ? { sender: outside.email, to: config.email.to } : null,
        slack: outside.slack ? { client: outside.slack, channel: config.slack.alertChannel } : null,
        intervalMs: options.alertTimings?.intervalMs,
      })
    : null;
  const workers = [
    createAlertWorker({
      pool,
      log,
      email: outside.email,
      slack: outside.slack,
      baseUrl: config.baseUrl,
      now,
      intervalMs: options.alertTimings?.intervalMs,
      retry: options.alertTimings?.retry,
    }),
    createCheckRunPublisher({ pool, github: clients, log, now, baseUrl: config.baseUrl }),
    createFailureReader({ pool, github: clients, log, now }),
    createPoller({
      pool,
      connectionUri,
      github: clients,
      lister,
      log,
      now,
      intervalSeconds: config.poll.intervalSeconds,
      jitterSeconds: config.poll.jitterSeconds,
      redeliverer: createFailedDeliveryRedeliverer({ pool, github: clients, log, now }),
    }),
    createHistoryImport({ pool, connectionUri, github: clients, lister, log, now, days: config.backfillDays }),
    createQueueTimeAlerts({
      pool,
      log,
      alerting: { email: config.email ? { to: config.email.to } : null, slack: outside.slack ? { channel: config.slack.alertChannel } : null, now },
    }),
    createRollupWorker({ pool, log, now }),
    ...(digests ? [digests] : []),
    ...(config.payloadRetentionDays !== null
      ? [
          createPayloadRetention({
            pool,
            connectionUri,
            log,
            now,
            days: config.payloadRetentionDays,
            onDropped: (kind, count) => outside.metrics.payloadsDropped(kind, count),
          }),
        ]
      : []),
  ];
  for (const worker of workers) {
    worker.start();
    stack.push(() => worker.stop());
  }
  return { digests };
}

/**
 * Without a login, the dashboard shows every installation's builds to whoever reaches it: fine
 * on this machine only, or behind a proxy that authenticates (TRUST_PROXY_AUTH=true).
 */
export function assertSafeToListen(options: { host: string; loginConfigured: boolean; trustProxyAuth: boolean }): void {
  if (options.loginConfigured || options.trustProxyAuth || isLoopbackHost(options.host)) return;
  throw new Error(
    `refusing to listen on HOST=${options.host} without a login: anyone who reaches it would see every build. ` +
      "Set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and SECRET_KEY (or connect the GitHub App on 127.0.0.1 first), " +
      "or set TRUST_PROXY_AUTH=true if an authenticating proxy stands in front",
  );
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} on ${host} is already in use: stop the other process or set PORT`)
          : error,
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** Lets in-flight requests finish for up to 10 s, then drops the rest. */
function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
