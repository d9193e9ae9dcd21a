import { describe, expect, it } from "vitest";
import { start } from "../src/start.js";
import { createGithubAppHolder } from "../src/github/github-app-holder.js";
import { silentLog, testConfig, testPrivateKey } from "./helpers/github-app.js";
import { createTestDatabase } from "./helpers/test-database.js";

describe("start on a non-loopback HOST", () => {
  it("refuses HOST=0.0.0.0 without a login, saying what to set, and serves with TRUST_PROXY_AUTH=true", async () => {
    const db = await createTestDatabase();
    try {
      await expect(start({ config: testConfig({ DATABASE_URL: db.connectionUri, HOST: "0.0.0.0" }), log: silentLog })).rejects.toThrow(
        /refusing to listen on HOST=0\.0\.0\.0 without a login.*GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and SECRET_KEY.*TRUST_PROXY_AUTH=true/,
      );
      const proxied = await start({
        config: testConfig({ DATABASE_URL: db.connectionUri, HOST: "0.0.0.0", TRUST_PROXY_AUTH: "true" }),
        log: silentLog,
      });
      try {
        const port = new URL(proxied.url).port;
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      } finally {
        await proxied.stop();
      }
    } finally {
      await db.drop();
    }
  });

  it("starts on HOST=0.0.0.0 when the login is configured (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and SECRET_KEY)", async () => {
    const db = await createTestDatabase();
    try {
      const running = await start({
        config: testConfig({
          DATABASE_URL: db.connectionUri,
          HOST: "0.0.0.0",
          GITHUB_CLIENT_ID: "Iv1.client",
          GITHUB_CLIENT_SECRET: "client-secret-0123",
          SECRET_KEY: "a-test-secret-key-of-at-least-32-chars",
        }),
        log: silentLog,
      });
      try {
        const port = new URL(running.url).port;
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
        // The login is in force: a page sends the visitor to log in with GitHub.
        const page = await fetch(`http://127.0.0.1:${port}/builds`, { redirect: "manual" });
        expect(page.status).toBe(302);
        expect(page.headers.get("location")).toMatch(/^\/login\?return_to=/);
      } finally {
        await running.stop();
      }
    } finally {
      await db.drop();
    }
  });

  it("starts on HOST=0.0.0.0 with the OAuth client of an app stored by Connect to GitHub", async () => {
    const db = await createTestDatabase();
    const secretKey = "a-test-secret-key-of-at-least-32-chars";
    try {
      const env = { DATABASE_URL: db.connectionUri, HOST: "0.0.0.0", APP_ID: "", SECRET_KEY: secretKey };
      await expect(start({ config: testConfig(env), log: silentLog })).rejects.toThrow(/refusing to listen/);
      const holder = createGithubAppHolder({ pool: db.pool, config: testConfig(env), log: silentLog, app: () => {} });
      await holder.register({
        appId: 4242,
        slug: "runboard-acme",
        htmlUrl: "https://github.com/apps/runboard-acme",
        clientId: "Iv1.stored",
        clientSecret: "stored-client-secret",
        webhookSecret: "stored-webhook-secret",
        privateKey: testPrivateKey(),
      });
      const running = await start({ config: testConfig(env), log: silentLog });
      try {
        const port = new URL(running.url).port;
        const page = await fetch(`http://127.0.0.1:${port}/builds`, { redirect: "manual" });
        expect(page.status).toBe(302);
        expect(page.headers.get("location")).toMatch(/^\/login\?return_to=/);
      } finally {
        await running.stop();
      }
    } finally {
      await db.drop();
    }
  });
});

