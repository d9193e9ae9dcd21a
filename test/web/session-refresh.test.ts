import type { Hono } from "hono";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createSecretBox } from "../../src/domain/secret-box.js";
import { createAuth } from "../../src/web/auth/create-auth.js";
import { createTestServer, silentLog } from "../helpers/github-app.js";
import { startGithubStandIn, type GithubCall, type GithubStandIn } from "../helpers/github-stand-in.js";
import { githubUserTokens, USER_TOKEN_SECONDS } from "../helpers/github-user-tokens.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const SECRET_KEY = "a-test-secret-key-of-at-least-32-chars";
const CLIENT = { clientId: "Iv1.client", clientSecret: "client-secret" };
const HOUR = 3_600_000;
const mona = { id: 77, login: "mona", installationIds: [111] };

const isRefresh = (call: GithubCall) => call.path === "/login/oauth/access_token" && call.body?.grant_type === "refresh_token";

describe("sessions that outlive the user's 8-hour GitHub token", () => {
  let db: TestDatabase;
  let github: GithubStandIn;
  let clock = new Date("2026-03-02T09:00:00Z");
  const now = () => clock;
  const tokens = githubUserTokens({ now, ...CLIENT });
  let replicaA: Hono;
  let replicaB: Hono;

  /** A replica: its own auth and server on the shared database, as a second process would be. */
  const replica = () =>
    createTestServer(db.pool, {
      now,
      auth: createAuth({
        pool: db.pool,
        log: silentLog,
        now,
        baseUrl: "https://runboard.test",
        webhookPath: "/api/github/webhooks",
        apiToken: null,
        secretKey: SECRET_KEY,
        secretBox: createSecretBox(SECRET_KEY, "runboard user tokens"),
        endpoints: { webUrl: github.apiUrl, apiUrl: github.apiUrl },
        getOAuthClient: () => CLIENT,
      }),
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    github = await startGithubStandIn(tokens.handler);
    replicaA = await replica();
    replicaB = await replica();
  });
  afterEach(async () => {
    tokens.setDown(false);
    await db.pool.query(sql.unsafe`DELETE FROM sessions`);
  });
  afterAll(async () => {
    await github.stop();
    await db.drop();
  });

  /** Logs mona in through GitHub's login flow; the session cookie to send. */
  async function logIn(app: Hono, user = mona): Promise<string> {
    const start = await app.request("/login");
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const loginCookie = start.headers.getSetCookie()[0]!.split(";")[0]!;
    const callback = await app.request(`/auth/github/callback?code=${tokens.code(user)}&state=${state}`, { headers: { cookie: loginCookie } });
    expect(callback.status, await callback.clone().text()).toBe(302);
    return callback.headers.getSetCookie().find((line) => line.startsWith("runboard_session="))!.split(";")[0]!;
  }

  /** The account page as this session sees it: 200 while logged in, a redirect to /login once not. */
  const account = (app: Hono, cookie: string) => app.request("/account", { headers: { cookie } });
  const stored = () =>
    db.pool.maybeOne(sql.type(z.object({ access_token: z.string(), refresh_token: z.string().nullable(), installation_ids: z.array(z.number()) }))`
      SELECT access_token, refresh_token, installation_ids FROM sessions`);
  const refreshes = () => github.calls.filter(isRefresh).length;

  it("keeps the refresh token sealed and renews the token each time it expires, for the session's 7 days", async () => {
    clock = new Date("2026-03-02T09:00:00Z");
    const cookie = await logIn(replicaA);
    const first = (await stored())!;
    expect(first.refresh_token).not.toBeNull();
    expect(first.refresh_token).not.toContain("ghr_");
    expect(first.access_token).not.toContain("ghu_");

    const before = refreshes();
    // Six and a half days in 9-hour steps: every step finds the 8-hour token expired.
    const steps = Math.floor((6.5 * 24 * HOUR) / (USER_TOKEN_SECONDS * 1000 + HOUR));
    for (let step = 1; step <= steps; step++) {
      clock = new Date(clock.getTime() + USER_TOKEN_SECONDS * 1000 + HOUR);
      const page = await account(step % 2 ? replicaA : replicaB, cookie);
      expect(page.status, `after ${step * 9} hours`).toBe(200);
      expect(await page.text()).toContain("mona");
    }
    expect(refreshes() - before).toBe(steps);
    const last = (await stored())!;
    expect(last.access_token).not.toBe(first.access_token);
    expect(last.installation_ids).toEqual([111]);
  });

  it("refreshes once when two replicas find the token expired at the same time, and both keep the user", async () => {
    clock = new Date("2026-03-10T09:00:00Z");
    const cookie = await logIn(replicaA);
    clock = new Date(clock.getTime() + 9 * HOUR);
    const before = refreshes();
    const release = tokens.hold();
    const onA = account(replicaA, cookie);
    await github.waitFor(isRefresh, before + 1);
    // B arrives while A's refresh is with GitHub: the refresh token is already spent.
    const onB = account(replicaB, cookie);
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    const [a, b] = await Promise.all([onA, onB]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(refreshes() - before).toBe(1);
    expect(await stored()).not.toBeNull();
    // The token A stored works for the next check on either replica.
    clock = new Date(clock.getTime() + 10 * 60_000);
    expect((await account(replicaB, cookie)).status).toBe(200);
    expect(refreshes() - before).toBe(1);
  });

  it("ends the session when GitHub refuses the refresh token (the user revoked the app)", async () => {
    clock = new Date("2026-03-20T09:00:00Z");
    const hubot = { id: 78, login: "hubot", installationIds: [111] };
    const cookie = await logIn(replicaA, hubot);
    tokens.revoke(hubot.id);
    clock = new Date(clock.getTime() + 9 * HOUR);
    const page = await account(replicaA, cookie);
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toMatch(/^\/login/);
    expect(await stored()).toBeNull();
  });

  it("keeps the session while GitHub's token endpoint is down, and refreshes at a later check", async () => {
    clock = new Date("2026-04-01T09:00:00Z");
    const cookie = await logIn(replicaA);
    clock = new Date(clock.getTime() + 9 * HOUR);
    tokens.setDown(true);
    const before = refreshes();
    expect((await account(replicaA, cookie)).status).toBe(200);
    expect(refreshes() - before).toBe(1);
    const kept = (await stored())!;
    expect(kept.installation_ids).toEqual([111]);

    tokens.setDown(false);
    // Within the minute after a failed check nothing is asked; after it, the refresh goes through.
    clock = new Date(clock.getTime() + 30_000);
    expect((await account(replicaB, cookie)).status).toBe(200);
    expect(refreshes() - before).toBe(1);
    clock = new Date(clock.getTime() + 2 * 60_000);
    expect((await account(replicaB, cookie)).status).toBe(200);
    expect(refreshes() - before).toBe(2);
    expect((await stored())!.access_token).not.toBe(kept.access_token);
  });
});
