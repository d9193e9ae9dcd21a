import { readFileSync } from "node:fs";
import cron from "node-cron";
import { z } from "zod";
import type { RunnerMultiplier } from "./domain/runner-minutes.js";

/** Unset and empty variables mean the same thing: use the default. */
const optionalString = z.string().trim().min(1).optional();

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`);

const envSchema = z.object({
  APP_ID: z.string().trim().regex(/^\d+$/, "must be the numeric id of the GitHub App").optional(),
  PRIVATE_KEY: optionalString,
  PRIVATE_KEY_PATH: optionalString,
  WEBHOOK_SECRET: optionalString,
  WEBHOOK_PATH: z.string().trim().regex(/^\/\S*$/, "must be a path starting with /").default("/api/github/webhooks"),
  GHE_HOST: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name (with an optional :port), without protocol or path")
    .optional(),
  GHE_PROTOCOL: z.enum(["http", "https"], { message: "must be http or https" }).default("https"),
  LOG_LEVEL: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"], {
      message: "must be one of trace, debug, info, warn, error, fatal, silent",
    })
    .default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"], { message: "must be json or pretty" }).optional(),
  PORT: integer(0, 65535).default("3000"),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  DATA_DIR: z.string().trim().min(1).default("./.data"),
  BASE_URL: url(["http:", "https:"]).optional(),
  API_TOKEN: z.string().trim().min(16, "must be at least 16 characters").optional(),
  GITHUB_CLIENT_ID: optionalString,
  GITHUB_CLIENT_SECRET: optionalString,
  SMTP_URL: url(["smtp:", "smtps:"]).optional(),
  ALERT_EMAIL_FROM: z.string().trim().email("must be an email address").optional(),
  ALERT_EMAIL_TO: z
    .string()
    .trim()
    .refine(
      (value) => value.split(",").every((part) => z.string().email().safeParse(part.trim()).success),
      "must be a comma-separated list of email addresses",
    )
    .optional(),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_ALERT_CHANNEL: optionalString,
  SLACK_API_URL: url(["http:", "https:"]).default("https://slack.com/api/"),
  POLL_INTERVAL_SECONDS: integer(0, 86_400).default("60"),
  POLL_JITTER_SECONDS: integer(0, 3_600).default("10"),
  BACKFILL_DAYS: integer(0, 400).default("30"),
  PAYLOAD_RETENTION_DAYS: z
    .string()
    .trim()
    .transform((value) => (value.toLowerCase() === "off" ? "0" : value))
    .pipe(
      z
        .string()
        .regex(/^\d+$/, "must be a whole number of days (0 or off keeps payloads for ever)")
        .transform(Number)
        .pipe(z.number().int().max(36_500, "must be at most 36500 (0 or off keeps payloads for ever)")),
    )
    .default("90"),
  SECRET_KEY: z.string().trim().min(32, "must be at least 32 characters (for example: openssl rand -base64 32)").optional(),
  TRUST_PROXY_AUTH: z
    .enum(["true", "false"], { message: "must be true or false" })
    .default("false")
    .transform((value) => value === "true"),
  RUNNER_MULTIPLIERS: z
    .string()
    .trim()
    .refine(
      (value) => value.split(",").every((part) => /^\s*[^=\s,]{1,255}\s*=\s*\d{1,4}(\.\d{1,3})?\s*$/.test(part)),
      "must be a comma-separated list of label=multiplier (for example ubuntu-22.04-16core=8,windows-*-8core=16)",
    )
    .optional(),
  DIGEST_SCHEDULE: z.string().trim().refine((value) => cron.validate(value), "must be a cron expression (for example 0 9 * * 1)").optional(),
  DIGEST_TIMEZONE: z
    .string()
    .trim()
    .refine((value) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: value });
        return true;
      } catch {
        return false;
      }
    }, "must be an IANA time zone (for example Europe/Berlin)")
    .default("UTC"),
  DEMO: z
    .enum(["true", "false"], { message: "must be true or false" })
    .default("false")
    .transform((value) => value === "true"),
});

type Env = z.infer<typeof envSchema>;

/** The GitHub App's credentials, present only when the app has been registered. */
export interface GithubAppConfig {
  appId: number;
  privateKey: string;
  webhookSecret: string;
  /** REST base URL: api.github.com, or a GitHub Enterprise host's /api/v3. */
  apiBaseUrl: string;
}

export interface Config {
  port: number;
  host: string;
  baseUrl: string;
  logLevel: Env["LOG_LEVEL"];
  /** `LOG_FORMAT`; null: pretty when stdout is a terminal, JSON lines otherwise. */
  logFormat: "json" | "pretty" | null;
  webhookPath: string;
  /** null until APP_ID, a private key and WEBHOOK_SECRET are all set. */
  github: GithubAppConfig | null;
  githubApiBaseUrl: string;
  /** Web base URL: github.com, or the GitHub Enterprise host (OAuth pages, app settings). */
  githubWebUrl: string;
  databaseUrl: string | null;
  dataDir: string;
  apiToken: string | null;
  oauth: { clientId: string; clientSecret: string } | null;
  email: { smtpUrl: string; from: string; to: string[] } | null;
  slack: { botToken: string | null; signingSecret: string | null; alertChannel: string | null; apiUrl: string };
  poll: { intervalSeconds: number; jitterSeconds: number };
  /** Days of history imported for each repository of a new installation; 0: none. */
  backfillDays: number;
  /** Days the raw payloads of runs and jobs are kept; null: for ever (PAYLOAD_RETENTION_DAYS 0 or off). */
  payloadRetentionDays: number | null;
  /**
   * Encrypts stored app credentials and signs session cookies (subkeys are derived from it).
   * null: no credentials can be stored and nobody can log in.
   */
  secretKey: string | null;
  /**
   * An authenticating proxy stands in front: without login configured, serve on a
   * non-loopback HOST anyway.
   */
  trustProxyAuth: boolean;
  /** `npm run demo`: the data is made up, so the pages say so and nothing calls GitHub. */
  demo: boolean;
  /** Larger runners' per-minute multipliers, by label (RUNNER_MULTIPLIERS). */
  runnerMultipliers: RunnerMultiplier[];
  /** When digests go out (cron, in `timezone`); null: no digests. */
  digest: { schedule: string; timezone: string } | null;
}

/** A configuration error: its message is one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Reads the whole configuration from the environment once, at start.
 * Throws a {@link ConfigError} naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid configuration: ${issue.path.join(".")} ${issue.message}`);
  }
  const e = parsed.data;

  if (e.GITHUB_CLIENT_ID && !e.SECRET_KEY) {
    throw new ConfigError("Invalid configuration: SECRET_KEY is required when GITHUB_CLIENT_ID is set (it signs login sessions)");
  }
  const githubApiBaseUrl = e.GHE_HOST ? `${e.GHE_PROTOCOL}://${e.GHE_HOST}/api/v3` : "https://api.github.com";
  return {
    port: e.PORT,
    host: e.HOST,
    baseUrl: (e.BASE_URL ?? `http://${e.HOST.includes(":") ? `[${e.HOST}]` : e.HOST}:${e.PORT}`).replace(/\/+$/, ""),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? null,
    webhookPath: e.WEBHOOK_PATH,
    github: githubAppConfig(e, githubApiBaseUrl),
    githubApiBaseUrl,
    githubWebUrl: e.GHE_HOST ? `${e.GHE_PROTOCOL}://${e.GHE_HOST}` : "https://github.com",
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: e.DATA_DIR,
    apiToken: e.API_TOKEN ?? null,
    oauth: pair(e, "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", (clientId, clientSecret) => ({ clientId, clientSecret })),
    email: emailConfig(e),
    slack: {
      botToken: e.SLACK_BOT_TOKEN ?? null,
      signingSecret: e.SLACK_SIGNING_SECRET ?? null,
      alertChannel: e.SLACK_ALERT_CHANNEL ?? null,
      apiUrl: e.SLACK_API_URL.endsWith("/") ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`,
    },
    poll: { intervalSeconds: e.POLL_INTERVAL_SECONDS, jitterSeconds: e.POLL_JITTER_SECONDS },
    backfillDays: e.BACKFILL_DAYS,
    payloadRetentionDays: e.PAYLOAD_RETENTION_DAYS > 0 ? e.PAYLOAD_RETENTION_DAYS : null,
    secretKey: e.SECRET_KEY ?? null,
    trustProxyAuth: e.TRUST_PROXY_AUTH,
    demo: e.DEMO,
    runnerMultipliers: (e.RUNNER_MULTIPLIERS ?? "")
      .split(",")
      .filter((part) => part.trim() !== "")
      .map((part) => {
        const [pattern, multiplier] = part.split("=");
        return { pattern: pattern!.trim(), multiplier: Number(multiplier) };
      }),
    digest: digestConfig(env, e),
  };
}

/** Default Monday 09:00; set but empty turns digests off (unlike other variables, where empty means unset). */
function digestConfig(env: NodeJS.ProcessEnv, e: Env): Config["digest"] {
  if (env.DIGEST_SCHEDULE !== undefined && env.DIGEST_SCHEDULE.trim() === "") return null;
  return { schedule: e.DIGEST_SCHEDULE ?? DEFAULT_DIGEST_SCHEDULE, timezone: e.DIGEST_TIMEZONE };
}

/** Monday 09:00 in DIGEST_TIMEZONE. */
export const DEFAULT_DIGEST_SCHEDULE = "0 9 * * 1";

function githubAppConfig(e: Env, apiBaseUrl: string): GithubAppConfig | null {
  if (!e.APP_ID) {
    return null;
  }
  let privateKey = e.PRIVATE_KEY;
  if (!privateKey && e.PRIVATE_KEY_PATH) {
    try {
      privateKey = readFileSync(e.PRIVATE_KEY_PATH, "utf8");
    } catch (error) {
      throw new ConfigError(
        `Invalid configuration: PRIVATE_KEY_PATH cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  }
  if (!privateKey) {
    throw new ConfigError("Invalid configuration: PRIVATE_KEY (or PRIVATE_KEY_PATH) is required when APP_ID is set");
  }
  // Keys pasted into one-line environments arrive with literal "\n" or base64-encoded.
  privateKey = privateKey.replace(/\\n/g, "\n");
  if (!privateKey.includes("-----BEGIN")) {
    const decoded = Buffer.from(privateKey, "base64").toString("utf8");
    if (!decoded.includes("-----BEGIN")) {
      throw new ConfigError("Invalid configuration: PRIVATE_KEY is not a PEM private key (nor base64 of one)");
    }
    privateKey = decoded;
  }
  if (!e.WEBHOOK_SECRET) {
    throw new ConfigError("Invalid configuration: WEBHOOK_SECRET is required when APP_ID is set");
  }
  return { appId: Number(e.APP_ID), privateKey, webhookSecret: e.WEBHOOK_SECRET, apiBaseUrl };
}

function emailConfig(e: Env): Config["email"] {
  if (!e.SMTP_URL) {
    return null;
  }
  if (!e.ALERT_EMAIL_FROM) {
    throw new ConfigError("Invalid configuration: ALERT_EMAIL_FROM is required when SMTP_URL is set");
  }
  if (!e.ALERT_EMAIL_TO) {
    throw new ConfigError("Invalid configuration: ALERT_EMAIL_TO is required when SMTP_URL is set");
  }
  const to = e.ALERT_EMAIL_TO.split(",").map((address) => address.trim());
  return { smtpUrl: e.SMTP_URL, from: e.ALERT_EMAIL_FROM, to };
}

function pair<T>(e: Env, a: keyof Env, b: keyof Env, build: (a: string, b: string) => T): T | null {
  const first = e[a] as string | undefined;
  const second = e[b] as string | undefined;
  if (!first && !second) return null;
  if (!first) throw new ConfigError(`Invalid configuration: ${String(a)} is required when ${String(b)} is set`);
  if (!second) throw new ConfigError(`Invalid configuration: ${String(b)} is required when ${String(a)} is set`);
  return build(first, second);
}
