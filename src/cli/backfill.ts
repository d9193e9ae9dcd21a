import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { createPool } from "../db/create-pool.js";
import { migrate } from "../db/migrate.js";
import { openDatabase } from "../db/open-database.js";
import { createGithubAppHolder } from "../github/github-app-holder.js";
import { createGithubClients } from "../github/github-clients.js";
import { createHistoryImport } from "../github/history-import.js";
import { createRunLister, type PollStats } from "../github/list-runs.js";
import { createPoller } from "../github/poller.js";
import { createIngest } from "../ingest.js";
import { createLogger } from "../logger.js";
import { requestHistory } from "../db/sync-repositories.js";

/**
 * `npm run backfill -- --since 30d [--repo owner/name]`: imports the history of every
 * repository the app's installations can see (or one) with the same code as the import that
 * runs on install: marked as history (no alert, no check run), within the rate-limit budget,
 * resumable. Progress goes to stderr. The GitHub App is the environment's, else the one stored
 * by "Connect to GitHub" (with SECRET_KEY).
 * 1. open and migrate the database
 * 2. load the GitHub App
 * 3. one poll: finds the installations and repositories
 * 4. ask for the history since --since, and import it
 */
try {
  const { values } = parseArgs({ options: { since: { type: "string", default: "30d" }, repo: { type: "string" } } });
  const match = /^(\d+)([dh])$/.exec(values.since ?? "");
  if (!match) throw new ConfigError("--since takes a number of days or hours, like 30d or 12h");
  const config = loadConfig();
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, undefined, config.logFormat);
  const now = () => new Date();
  const spanMs = Number(match[1]) * (match[2] === "d" ? 86_400_000 : 3_600_000);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
  try {
    await migrate({ connectionUri: database.connectionUri, log });
    const pool = await createPool(database.connectionUri);
    try {
      const holder = createGithubAppHolder({ pool, config, log, app: () => undefined });
      await holder.load();
      if (!holder.probot()) {
        throw new ConfigError("backfill needs the GitHub App: set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET, or connect one from /setup (with SECRET_KEY)");
      }
      const ingest = createIngest({ pool, alerting: { email: null, slack: null, now, sendDelayMs: 0 } });
      const github = createGithubClients({ getProbot: () => holder.probot(), log });
      const lister = createRunLister({ pool, ingest, log });
      const common = { pool, connectionUri: database.connectionUri, github, lister, log, now };
      const polled = await createPoller({ ...common, intervalSeconds: 0, jitterSeconds: 0 }).pollOnce();
      if (polled.skipped) throw new Error(`${polled.skipped}: try again in a moment`);
      await requestHistory(pool, new Date(Date.now() - spanMs), values.repo);
      const history = createHistoryImport({ ...common, days: Math.ceil(spanMs / 86_400_000) });
      const tty = process.stderr.isTTY;
      const line = (stats: PollStats, repo: string) =>
        `repositories ${stats.repositories}  runs ${stats.runsSeen} (${stats.runsChanged} new or changed)  requests ${stats.requests}` +
        `  rate limit left ${stats.rateLimitRemaining ?? "?"}  ${repo}`;
      await history.runOnce({
        repository: values.repo,
        onProgress: (s, repo) => process.stderr.write(tty ? `\r\x1b[K${line(s, repo)}` : `${line(s, repo)}\n`),
      });
      const stats = history.lastStats();
      if (stats.skipped) throw new Error(`${stats.skipped}: it goes on there; this command is not needed`);
      process.stderr.write(`${tty ? "\n" : ""}backfill done: ${line(stats, "")}\n`);
    } finally {
      await pool.end();
    }
  } finally {
    await database.close();
  }
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `backfill failed: ${(error as Error).message}`}\n`);
  process.exit(1);
}
