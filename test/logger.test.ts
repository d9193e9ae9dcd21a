import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, withoutUrlPasswords } from "../src/logger.js";
import { testConfig, testPrivateKey, WEBHOOK_SECRET } from "./helpers/github-app.js";

/** A logger writing into an array, to read exactly what would reach stdout. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger("debug", stream as never), text: () => lines.join("") };
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
});
