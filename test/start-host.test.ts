import { describe, expect, it } from "vitest";
import { start } from "../src/start.js";
import { silentLog, testConfig } from "./helpers/github-app.js";
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
});
