import pino, { type Logger } from "pino";
import type { Config } from "./config.js";

/** JSON logs on stdout, with secrets redacted wherever they appear in a logged object. */
export function createLogger(level: Config["logLevel"]): Logger {
  return pino({
    name: "runboard",
    level,
    redact: {
      paths: ["privateKey", "*.privateKey", "webhookSecret", "*.webhookSecret", "password", "*.password", "token", "*.token"],
      censor: "[redacted]",
    },
  });
}
