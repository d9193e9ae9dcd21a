import { generateKeyPairSync, randomBytes } from "node:crypto";
import { loadConfig, type Config } from "../config.js";

/**
 * What the demo takes from the environment: where to listen and how to log, and the alert
 * channels (so alerts behave as configured). Nothing that names a database, a GitHub App or a
 * GitHub login: demo data must never land in a real database, and nothing may call GitHub.
 * Slack's signing secret stays out too: with it, a "Re-run" button would call GitHub.
 */
const PASSED_THROUGH = [
  "PORT",
  "HOST",
  "BASE_URL",
  "LOG_LEVEL",
  "WEBHOOK_PATH",
  "API_TOKEN",
  "TRUST_PROXY_AUTH",
  "SMTP_URL",
  "ALERT_EMAIL_FROM",
  "ALERT_EMAIL_TO",
  "SLACK_BOT_TOKEN",
  "SLACK_ALERT_CHANNEL",
  "SLACK_API_URL",
] as const;

/**
 * The configuration `npm run demo` runs with: demo mode, an embedded database in `dataDir`, no
 * polling and no history import, and a GitHub App of its own (a fresh key and webhook secret,
 * an id no real app has) so that the webhook endpoint accepts the demo's signed deliveries.
 * Throws a ConfigError naming a bad variable, as `loadConfig` does.
 */
export function demoConfig(env: NodeJS.ProcessEnv, dataDir: string): Config {
  const passed: Record<string, string> = {};
  for (const key of PASSED_THROUGH) {
    const value = env[key];
    if (value !== undefined) passed[key] = value;
  }
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return loadConfig({
    ...passed,
    DEMO: "true",
    DATA_DIR: dataDir,
    APP_ID: "1",
    PRIVATE_KEY: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    WEBHOOK_SECRET: randomBytes(32).toString("hex"),
    POLL_INTERVAL_SECONDS: "0",
    BACKFILL_DAYS: "0",
  });
}
