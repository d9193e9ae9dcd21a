import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { testPrivateKey } from "./helpers/github-app.js";

describe("loadConfig", () => {
  it("runs with no configuration at all: embedded database, no GitHub App", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      baseUrl: "http://127.0.0.1:3000",
      webhookPath: "/api/github/webhooks",
      github: null,
      githubApiBaseUrl: "https://api.github.com",
      databaseUrl: null,
      dataDir: "./.data",
      email: null,
      oauth: null,
      secretKey: null,
      trustProxyAuth: false,
      poll: { intervalSeconds: 60, jitterSeconds: 10 },
      payloadRetentionDays: 90,
    });
    expect(config.slack.apiUrl).toBe("https://slack.com/api/");
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: " ", APP_ID: "" })).toMatchObject({ port: 3000, databaseUrl: null, github: null });
  });

  it("reads a registered app, with GitHub Enterprise hosts", () => {
    const config = loadConfig({
      APP_ID: "42",
      PRIVATE_KEY: testPrivateKey().replace(/\n/g, "\\n"),
      WEBHOOK_SECRET: "s3cret",
      GHE_HOST: "127.0.0.1:8080",
      GHE_PROTOCOL: "http",
    });
    expect(config.github).toMatchObject({ appId: 42, webhookSecret: "s3cret", apiBaseUrl: "http://127.0.0.1:8080/api/v3" });
    expect(config.github?.privateKey).toContain("-----BEGIN PRIVATE KEY-----\n");
  });

  it("accepts a base64-encoded private key", () => {
    const config = loadConfig({ APP_ID: "1", PRIVATE_KEY: Buffer.from(testPrivateKey()).toString("base64"), WEBHOOK_SECRET: "x" });
    expect(config.github?.privateKey).toBe(testPrivateKey());
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ LOG_FORMAT: "colourful" }, "LOG_FORMAT"],
    [{ DATABASE_URL: "mysql://localhost/db" }, "DATABASE_URL"],
    [{ BASE_URL: "runboard.example.com" }, "BASE_URL"],
    [{ WEBHOOK_PATH: "webhooks" }, "WEBHOOK_PATH"],
    [{ GHE_HOST: "https://github.example.com" }, "GHE_HOST"],
    [{ GHE_PROTOCOL: "ftp" }, "GHE_PROTOCOL"],
    [{ POLL_INTERVAL_SECONDS: "-1" }, "POLL_INTERVAL_SECONDS"],
    [{ APP_ID: "abc" }, "APP_ID"],
    [{ APP_ID: "1", WEBHOOK_SECRET: "x" }, "PRIVATE_KEY"],
    [{ APP_ID: "1", PRIVATE_KEY: "not a key!" }, "PRIVATE_KEY"],
    [{ APP_ID: "1", PRIVATE_KEY_PATH: "/nonexistent/key.pem" }, "PRIVATE_KEY_PATH"],
    [{ SMTP_URL: "smtp://localhost:25" }, "ALERT_EMAIL_FROM"],
    [{ SMTP_URL: "smtp://localhost:25", ALERT_EMAIL_FROM: "ci@example.com", ALERT_EMAIL_TO: "a@example.com, nope" }, "ALERT_EMAIL_TO"],
    [{ GITHUB_CLIENT_ID: "Iv1.abc", SECRET_KEY: "k".repeat(32) }, "GITHUB_CLIENT_SECRET"],
    [{ GITHUB_CLIENT_ID: "Iv1.abc", GITHUB_CLIENT_SECRET: "s" }, "SECRET_KEY"],
    [{ SECRET_KEY: "too short" }, "SECRET_KEY"],
    [{ TRUST_PROXY_AUTH: "yes" }, "TRUST_PROXY_AUTH"],
    [{ API_TOKEN: "short" }, "API_TOKEN"],
    [{ RUNNER_MULTIPLIERS: "ubuntu-16core" }, "RUNNER_MULTIPLIERS"],
    [{ RUNNER_MULTIPLIERS: "ubuntu-16core=many" }, "RUNNER_MULTIPLIERS"],
    [{ DIGEST_SCHEDULE: "every monday" }, "DIGEST_SCHEDULE"],
    [{ DIGEST_TIMEZONE: "Mars/Olympus" }, "DIGEST_TIMEZONE"],
    [{ PAYLOAD_RETENTION_DAYS: "never" }, "PAYLOAD_RETENTION_DAYS"],
    [{ PAYLOAD_RETENTION_DAYS: "-5" }, "PAYLOAD_RETENTION_DAYS"],
    [{ PAYLOAD_RETENTION_DAYS: "1.5" }, "PAYLOAD_RETENTION_DAYS"],
  ])("stops with one line naming the variable for %o", (env, name) => {
    let error: unknown;
    try {
      loadConfig(env as NodeJS.ProcessEnv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${name}\\b`));
    expect(message).not.toContain("\n");
  });

  it("keeps payloads PAYLOAD_RETENTION_DAYS days; 0 or off keeps them for ever", () => {
    expect(loadConfig({ PAYLOAD_RETENTION_DAYS: "30" }).payloadRetentionDays).toBe(30);
    expect(loadConfig({ PAYLOAD_RETENTION_DAYS: "0" }).payloadRetentionDays).toBeNull();
    expect(loadConfig({ PAYLOAD_RETENTION_DAYS: " OFF " }).payloadRetentionDays).toBeNull();
  });

  it("requires the webhook secret when the app is registered", () => {
    expect(() => loadConfig({ APP_ID: "1", PRIVATE_KEY: testPrivateKey() })).toThrow(/^Invalid configuration: WEBHOOK_SECRET/);
  });

  it("reads larger runners' multipliers and the digest schedule; an empty DIGEST_SCHEDULE turns digests off", () => {
    expect(loadConfig({})).toMatchObject({ runnerMultipliers: [], digest: { schedule: "0 9 * * 1", timezone: "UTC" } });
    expect(
      loadConfig({ RUNNER_MULTIPLIERS: "ubuntu-22.04-16core=8, windows-*-8core=16,linux-arm=0.5", DIGEST_SCHEDULE: "0 8 * * 1-5", DIGEST_TIMEZONE: "Europe/Berlin" }),
    ).toMatchObject({
      runnerMultipliers: [
        { pattern: "ubuntu-22.04-16core", multiplier: 8 },
        { pattern: "windows-*-8core", multiplier: 16 },
        { pattern: "linux-arm", multiplier: 0.5 },
      ],
      digest: { schedule: "0 8 * * 1-5", timezone: "Europe/Berlin" },
    });
    expect(loadConfig({ DIGEST_SCHEDULE: "" }).digest).toBeNull();
  });
});
