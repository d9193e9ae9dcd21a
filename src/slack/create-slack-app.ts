import { App, LogLevel, type Logger as BoltLogger } from "@slack/bolt";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { SLACK_ACTIONS } from "../alerts/render-slack.js";
import type { SlackClient } from "../alerts/slack-client.js";
import { registerBuildsCommand } from "./register-builds-command.js";
import type { RunnerMultiplier } from "../domain/runner-minutes.js";
import { registerMuteActions } from "./register-mute-actions.js";
import { registerRerunAction } from "./register-rerun-action.js";
import { createSlackReceiver } from "./slack-receiver.js";
import type { GithubClients } from "../github/github-clients.js";

export interface SlackAppDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  /** SLACK_SIGNING_SECRET; null: `/slack/events` answers 503. */
  signingSecret: string | null;
  /** SLACK_BOT_TOKEN, for answers in threads; null: answers go to the presser alone. */
  botToken: string | null;
  /** SLACK_ALERT_CHANNEL: the channel of every repository no route sends elsewhere. */
  alertChannel: string | null;
  /** SLACK_API_URL. */
  apiUrl: string;
  /** Web API client for thread answers (chat.postMessage), null without a bot token. */
  slack: SlackClient | null;
  github: GithubClients;
  /** Larger runners' multipliers (RUNNER_MULTIPLIERS), for estimated minutes. */
  runnerMultipliers?: RunnerMultiplier[];
}

/**
 * The Slack bot: Bolt dispatching `/builds` and the buttons of alerts and answers, behind our
 * own receiver at POST /slack/events on the server's port.
 */
export function createSlackApp(deps: SlackAppDeps): Hono {
  const { signingSecret } = deps;
  if (!signingSecret) {
    const routes = new Hono();
    routes.post("/slack/events", (c) =>
      c.json({ error: "Slack is not configured: set SLACK_SIGNING_SECRET (the Slack app's signing secret)" }, 503),
    );
    return routes;
  }
  const log = deps.log.child({ name: "slack" });
  const receiver = createSlackReceiver({ signingSecret, now: deps.now, log });
  const app = new App({
    receiver,
    // No token check at start (Slack may be unreachable); answers use response_url or our client.
    authorize: async () => ({ botToken: deps.botToken ?? undefined }),
    clientOptions: { slackApiUrl: deps.apiUrl },
    logger: boltLogger(log),
    logLevel: LogLevel.WARN,
  });
  registerBuildsCommand(app, {
    pool: deps.pool,
    log,
    now: deps.now,
    baseUrl: deps.baseUrl,
    alertChannel: deps.alertChannel,
    runnerMultipliers: deps.runnerMultipliers ?? [],
  });
  registerRerunAction(app, { pool: deps.pool, log, now: deps.now, github: deps.github, slack: deps.slack });
  registerMuteActions(app, { pool: deps.pool, log, now: deps.now, slack: deps.slack });
  // Link buttons open a page; Slack still reports the press and wants it acknowledged.
  app.action(new RegExp(`^(${SLACK_ACTIONS.openDashboard}|${SLACK_ACTIONS.openGithub})$`), async ({ ack }) => {
    await ack();
  });
  app.error(async (error) => {
    log.error({ err: error }, "Slack listener failed");
  });
  return receiver.routes;
}

/** Bolt's logger interface over the app's pino logger. */
function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.WARN;
  return {
    debug: (...msg) => log.debug(msg.map(String).join(" ")),
    info: (...msg) => log.info(msg.map(String).join(" ")),
    warn: (...msg) => log.warn(msg.map(String).join(" ")),
    error: (...msg) => log.error(msg.map(String).join(" ")),
    setLevel: (next) => (level = next),
    getLevel: () => level,
    setName: () => undefined,
  };
}
