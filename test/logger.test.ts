import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { sign } from "@octokit/webhooks-methods";
import { describe, expect, it } from "vitest";
import { createLogger, withoutUrlPasswords, type LogFormat } from "../src/logger.js";
import { start } from "../src/start.js";
import { testConfig, TestOctokit, testPrivateKey, WEBHOOK_SECRET } from "./helpers/github-app.js";
import { createTestDatabase } from "./helpers/test-database.js";
import { workflowExamples } from "./helpers/webhook-examples.js";

/** A logger writing into an array, to read exactly what would reach stdout. */
function capture(format: LogFormat | null = null, level: "debug" | "info" = "debug") {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger(level, stream as never, format), text: () => lines.join("") };
}

const SMTP_PASSWORD = "smtp-pa55-word-9c1e";
const CLIENT_SECRET = "oauth-client-secret-77aa";
const API_TOKEN = "api-token-0123456789abcdef";
const SESSION_COOKIE = "runboard_session=s3ss10n-c00kie";
const INSTALLATION_TOKEN = "ghs_installationtoken123";

describe("createLogger", () => {
  it("writes JSON lines that keep a delivery id on every line of its child logger", () => {
    const { log, text } = capture();
    log.child({ deliveryId: "d-1", event: "workflow_run" }).info("delivery ingested");
    const line = JSON.parse(text().trim());
    expect(line).toMatchObject({ deliveryId: "d-1", event: "workflow_run", msg: "delivery ingested", level: 30 });
  });

  it("never writes a secret, wherever it sits in a logged object", () => {
    const { log, text } = capture();
    const config = testConfig({
      SMTP_URL: `smtp://mailer:${SMTP_PASSWORD}@mail.internal:587`,
      ALERT_EMAIL_FROM: "runboard@example.com",
      ALERT_EMAIL_TO: "team@example.com",
      GITHUB_CLIENT_ID: "Iv1.clientid",
      GITHUB_CLIENT_SECRET: CLIENT_SECRET,
      SECRET_KEY: "k".repeat(40),
      API_TOKEN,
    });
    log.info({ config }, "configuration loaded");
    log.info(
      {
        req: { method: "GET", url: "/api/builds", headers: { authorization: `Bearer ${API_TOKEN}`, cookie: SESSION_COOKIE } },
        res: { statusCode: 200, headers: { "set-cookie": SESSION_COOKIE } },
      },
      "request",
    );
    log.child({ installationId: 42, token: INSTALLATION_TOKEN }).warn({ github: { access_token: INSTALLATION_TOKEN } }, "token made");
    log.error({ err: new Error(`connect ECONNREFUSED smtp://mailer:${SMTP_PASSWORD}@mail.internal:587`) }, "mail failed");

    const output = text();
    for (const secret of [testPrivateKey().split("\n")[1]!, WEBHOOK_SECRET, SMTP_PASSWORD, CLIENT_SECRET, API_TOKEN, "s3ss10n-c00kie", INSTALLATION_TOKEN, "k".repeat(40)]) {
      expect(output).not.toContain(secret);
    }
    // What is not secret stays readable: the SMTP host, the error, the request.
    expect(output).toContain("smtp://mailer:[redacted]@mail.internal:587");
    expect(output).toContain("connect ECONNREFUSED");
    expect(output).toContain("/api/builds");
    expect(output.trim().split("\n")).toHaveLength(4);
  });

  it("takes only the password out of a URL", () => {
    expect(withoutUrlPasswords("postgres://runboard:hunter2@db:5432/runboard and smtps://u:p@x")).toBe(
      "postgres://runboard:[redacted]@db:5432/runboard and smtps://u:[redacted]@x",
    );
    expect(withoutUrlPasswords("https://github.com/acme/api")).toBe("https://github.com/acme/api");
  });

  it("writes readable lines with LOG_FORMAT=pretty, still without secrets", () => {
    const { log, text } = capture("pretty");
    log.child({ deliveryId: "d-7" }).info({ config: { apiToken: API_TOKEN, smtpUrl: `smtp://u:${SMTP_PASSWORD}@mail:587` } }, "delivery ingested");
    const output = text();
    expect(() => JSON.parse(output.trim())).toThrow();
    expect(output).toMatch(/INFO.*delivery ingested/);
    expect(output).toContain("d-7");
    expect(output).toContain("smtp://u:[redacted]@mail:587");
    expect(output).not.toContain(API_TOKEN);
    expect(output).not.toContain(SMTP_PASSWORD);
  });
});

describe("access log", () => {
  it("writes one info line per request: method, path, status, duration, and the delivery id of a webhook", async () => {
    const db = await createTestDatabase();
    const { log, text } = capture("json", "info");
    const running = await start({ config: testConfig({ DATABASE_URL: db.connectionUri, POLL_INTERVAL_SECONDS: "0" }), log, Octokit: TestOctokit });
    try {
      expect((await fetch(`${running.url}/health`)).status).toBe(200);
      expect((await fetch(`${running.url}/api/builds?limit=nope`)).status).toBe(400);
      const example = workflowExamples().find((e) => e.event === "workflow_run")!;
      const body = JSON.stringify(example.payload);
      const deliveryId = randomUUID();
      const webhook = await fetch(`${running.url}/api/github/webhooks`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-delivery": deliveryId,
          "x-github-event": "workflow_run",
          "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
        },
        body,
      });
      expect(webhook.status).toBe(200);

      const requests = text()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === "request");
      expect(requests.map(({ method, path, status, deliveryId: id }) => ({ method, path, status, deliveryId: id }))).toEqual([
        { method: "GET", path: "/health", status: 200, deliveryId: undefined },
        // The query string stays out: it may carry a login code.
        { method: "GET", path: "/api/builds", status: 400, deliveryId: undefined },
        { method: "POST", path: "/api/github/webhooks", status: 200, deliveryId },
      ]);
      for (const line of requests) {
        expect(line.level).toBe(30);
        expect(typeof line.durationMs).toBe("number");
      }
    } finally {
      await running.stop();
      await db.drop();
    }
  });
});
