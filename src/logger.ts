import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config.js";

/**
 * Keys whose value is a secret wherever it sits in a logged object: the app's credentials,
 * tokens of every kind, passwords, session cookies and authorization headers.
 */
const SECRET_KEYS = [
  "privateKey",
  "private_key",
  "webhookSecret",
  "secret",
  "clientSecret",
  "client_secret",
  "secretKey",
  "apiToken",
  "token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "botToken",
  "signingSecret",
  "password",
  "pass",
  "authorization",
  "cookie",
  "set-cookie",
];

/** Keys holding a URL that may carry a password (`smtp://user:password@host`). */
const URL_KEYS = ["smtpUrl", "databaseUrl", "connectionUri", "connectionString"];

/** Down to req.headers.authorization inside one more object ({ err: { config: { headers } } }). */
const DEPTH = 4;

function pathsFor(keys: string[]): string[] {
  const paths: string[] = [];
  for (const key of keys) {
    const leaf = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    for (let depth = 0; depth < DEPTH; depth++) {
      const prefix = "*.".repeat(depth);
      paths.push(leaf.startsWith("[") ? (depth === 0 ? leaf : `${prefix.slice(0, -1)}${leaf}`) : `${prefix}${leaf}`);
    }
  }
  return paths;
}

const URL_PATH_KEYS = new Set(URL_KEYS);

/** The password of a URL's user info, wherever one appears in a text. */
export function withoutUrlPasswords(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1[redacted]@");
}

/** `LOG_FORMAT`: JSON lines, or pino-pretty's readable lines; null decides by the terminal. */
export type LogFormat = "json" | "pretty";

/**
 * Logs on stdout: JSON lines (one object a line, with the delivery id on every line logged for
 * a webhook), or readable lines (pino-pretty) with `format` "pretty", the default when stdout
 * is a terminal. Secrets are redacted wherever they appear in a logged object, in both formats:
 * listed keys are replaced, a URL keeps everything but its password, and error messages and
 * stacks lose URL passwords too (a failing SMTP or database connection may quote its URL).
 * @param destination tests pass a stream to read what was written.
 * @param format `LOG_FORMAT`; null: pretty on a terminal, JSON otherwise.
 */
export function createLogger(level: Config["logLevel"], destination?: DestinationStream, format: LogFormat | null = null): Logger {
  const terminal = !destination && process.stdout.isTTY === true;
  const chosen = format ?? (terminal ? "pretty" : "json");
  const target = destination ?? pino.destination(1);
  return pino(
    {
      name: "runboard",
      level,
      redact: {
        paths: [...pathsFor(SECRET_KEYS), ...pathsFor(URL_KEYS)],
        censor: (value: unknown, path: string[]) =>
          URL_PATH_KEYS.has(path[path.length - 1] ?? "") && typeof value === "string" ? withoutUrlPasswords(value) : "[redacted]",
      },
      serializers: {
        err: (error: unknown) => {
          const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
          for (const key of ["message", "stack"]) {
            if (typeof serialized[key] === "string") serialized[key] = withoutUrlPasswords(serialized[key] as string);
          }
          return serialized;
        },
      },
    },
    chosen === "pretty" ? pretty({ destination: target, colorize: terminal, sync: true }) : target,
  );
}
