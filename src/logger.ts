import pino, { type DestinationStream, type Logger } from "pino";
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

/**
 * JSON logs on stdout (one object a line, with the delivery id on every line logged for a
 * webhook), with secrets redacted wherever they appear in a logged object: listed keys are
 * replaced, a URL keeps everything but its password, and error messages and stacks lose URL
 * passwords too (a failing SMTP or database connection may quote its URL).
 * @param destination tests pass a stream to read what was written.
 */
export function createLogger(level: Config["logLevel"], destination?: DestinationStream): Logger {
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
    destination ?? pino.destination(1),
  );
}
