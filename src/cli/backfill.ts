import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { createPool } from "../db/create-pool.js";
import { migrate } from "../db/migrate.js";
import { openDatabase } from "../db/open-database.js";
import { createProbot } from "../github/create-probot.js";
import { createPoller, type PollStats } from "../github/poller.js";
import { createIngest } from "../ingest.js";
import { createLogger } from "../logger.js";

/**
 * `npm run backfill -- --since 30d [--repo owner/name]`: imports the history of every
 * repository the app's installations can see (or one), through the same path as webhooks.
 * Progress goes to stderr. Stopped and started again with the same --since, it resumes after
 * the last day it finished.
 */
try {
  const { values } = parseArgs({ options: { since: { type: "string", default: "30d" }, repo: { type: "string" } } });
  const match = /^(\d+)([dh])$/.exec(values.since ?? "");
  if (!match) throw new ConfigError("--since takes a number of days or hours, like 30d or 12h");
  const config = loadConfig();
  if (!config.github) throw new ConfigError("backfill needs the GitHub App: set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET");
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const now = () => new Date();
  const since = new Date(Date.now() - Number(match[1]) * (match[2] === "d" ? 86_400_000 : 3_600_000));
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
  try {
    await migrate({ connectionUri: database.connectionUri, log });
    const pool = await createPool(database.connectionUri);
    try {
      const ingest = createIngest({ pool, alerting: { email: null, slack: null, now, sendDelayMs: 0 } });
      const probot = createProbot(config.github, log);
      const poller = createPoller({
        pool, connectionUri: database.connectionUri, getProbot: () => probot, ingest, log, now, intervalSeconds: 0, jitterSeconds: 0,
      });
      const tty = process.stderr.isTTY;
      const line = (stats: PollStats, repo: string) =>
        `repositories ${stats.repositories}  runs ${stats.runsSeen} (${stats.runsChanged} new or changed)  requests ${stats.requests}` +
        `  rate limit left ${stats.rateLimitRemaining ?? "?"}  ${repo}`;
      const stats = await poller.pollOnce({
        since,
        repository: values.repo,
        onProgress: (s, repo) => process.stderr.write(tty ? `\r\x1b[K${line(s, repo)}` : `${line(s, repo)}\n`),
      });
      if (stats.skipped) throw new Error(`${stats.skipped}: stop the other Runboard, or let it finish`);
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
