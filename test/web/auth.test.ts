import { createHash } from "node:crypto";
import type { Hono } from "hono";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createSecretBox } from "../../src/domain/secret-box.js";
import { INVALID_TOKENS_PER_MINUTE } from "../../src/web/auth/create-access-middleware.js";
import { createAuth } from "../../src/web/auth/create-auth.js";
import { LOGINS_PER_MINUTE } from "../../src/web/auth/create-login-routes.js";
import { createLiveHub, type LiveHub } from "../../src/web/live-hub.js";
import { createTestServer, deliver, silentLog } from "../helpers/github-app.js";
import { readEvents } from "../helpers/read-events.js";
import { runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const BASE_URL = "https://runboard.test";
const WEB = "https://github.com";
const API = "https://api.github.com";
const API_TOKEN = "operator-token-0123456789";
const SECRET_KEY = "a-test-secret-key-of-at-least-32-chars";
const INSTALLATION_A = 111;
const INSTALLATION_B = 222;

function seed(id: number, repository: string): SeedRun {
  return {
    id,
    repository,
    workflow: "CI",
    branch: "main",
    conclusion: "success",
    createdAt: new Date(Date.now() - 3_600_000),
    seconds: 60,
    actor: "mona",
    message: `Change ${id}`,
  };
}

/** The cookies a response sets, as name=value pairs ready for a Cookie header. */
function cookiesOf(response: Response): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const [name, ...value] = pair!.split("=");
    cookies[name!.trim()] = value.join("=");
  }
  return cookies;
}

describe("login, installation access, API tokens and CSRF", () => {
  let db: TestDatabase;
  let app: Hono;
  let buildA: number;
  let buildB: number;
  let session: string;
  let csrfToken: string;
  let live: LiveHub;

  /** Login, tokens and CSRF as configured for these tests, on `now`'s clock. */
  const testAuth = (now: () => Date) =>
    createAuth({
      pool: db.pool,
      log: silentLog,
      now,
      baseUrl: BASE_URL,
      webhookPath: "/api/github/webhooks",
      apiToken: API_TOKEN,
      secretKey: SECRET_KEY,
      secretBox: createSecretBox(SECRET_KEY, "runboard user tokens"),
      endpoints: { webUrl: WEB, apiUrl: API },
      getOAuthClient: () => ({ clientId: "Iv1.client", clientSecret: "client-secret" }),
    });

  beforeAll(async () => {
    nock.disableNetConnect();
    db = await createTestDatabase();
    const now = () => new Date();
    live = createLiveHub({ connectionUri: db.connectionUri, pool: db.pool, log: silentLog });
    app = await createTestServer(db.pool, {
      now,
      live,
      auth: testAuth(now),
    });
    for (const [run, installation] of [
      [seed(9001, "acme/web"), INSTALLATION_A],
      [seed(9002, "rival/secret-project"), INSTALLATION_B],
    ] as const) {
      const payload = { ...runPayload(run), installation: { id: installation, node_id: "x" } };
      expect((await deliver(app, { event: "workflow_run", payload })).status).toBe(200);
    }
    const ids = await db.pool.any(sql.type(z.object({ id: z.number(), installation_id: z.number() }))`
      SELECT id, installation_id FROM builds ORDER BY external_id`);
    buildA = ids.find((row) => row.installation_id === INSTALLATION_A)!.id;
    buildB = ids.find((row) => row.installation_id === INSTALLATION_B)!.id;
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(async () => {
    nock.enableNetConnect();
    await live.close();
    await db.drop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers });
  const asUser = (headers: Record<string, string> = {}) => ({ cookie: `runboard_session=${session}`, ...headers });
  const sessionCount = () => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM sessions`);

  it("sends a visitor without a session to log in, and back where they were going", async () => {
    const response = await get("/builds?branch=main");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login?return_to=%2Fbuilds%3Fbranch%3Dmain");
  });

  it("logs in with GitHub: state checked, PKCE verifier sent, installations read with the user's token", async () => {
    const start = await get("/login?return_to=/builds");
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get("location")!);
    expect(authorize.origin + authorize.pathname).toBe(`${WEB}/login/oauth/authorize`);
    expect(authorize.searchParams.get("client_id")).toBe("Iv1.client");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${BASE_URL}/auth/github/callback`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    const state = authorize.searchParams.get("state")!;
    const challenge = authorize.searchParams.get("code_challenge")!;
    const loginCookie = cookiesOf(start).runboard_login!;
    expect(start.headers.getSetCookie()[0]).toMatch(/HttpOnly/i);

    const github = nock(WEB)
      .post("/login/oauth/access_token", (body) => {
        // The verifier GitHub gets must be the one the challenge was made from.
        return (
          body.code === "the-code" &&
          body.client_secret === "client-secret" &&
          createHash("sha256").update(body.code_verifier).digest("base64url") === challenge
        );
      })
      .reply(200, { access_token: "ghu_usertoken", token_type: "bearer" });
    const api = nock(API, { reqheaders: { authorization: "Bearer ghu_usertoken" } })
      .get("/user")
      .reply(200, { id: 77, login: "mona" })
      .get("/user/installations")
      .query({ per_page: "100", page: "1" })
      .reply(200, { total_count: 1, installations: [{ id: INSTALLATION_A }] });

    const callback = await get(`/auth/github/callback?code=the-code&state=${state}`, { cookie: `runboard_login=${loginCookie}` });
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe("/builds");
    expect(github.isDone() && api.isDone()).toBe(true);
    const sessionCookie = callback.headers.getSetCookie().find((line) => line.startsWith("runboard_session="))!;
    expect(sessionCookie).toMatch(/HttpOnly/i);
    expect(sessionCookie).toMatch(/Secure/i);
    expect(sessionCookie).toMatch(/SameSite=Lax/i);
    session = cookiesOf(callback).runboard_session!;

    // The GitHub token is stored sealed, never as it is.
    const stored = await db.pool.oneFirst(sql.type(z.object({ access_token: z.string() }))`SELECT access_token FROM sessions`);
    expect(stored).not.toContain("ghu_usertoken");

    const account = await (await get("/account", asUser())).text();
    expect(account).toContain("mona");
    csrfToken = /name="_csrf" value="([^"]+)"/.exec(account)![1]!;
  });

  it("refuses a callback whose state is not the one this browser started with, and stores nothing", async () => {
    const start = await get("/login");
    const loginCookie = cookiesOf(start).runboard_login!;
    const before = await sessionCount();
    const response = await get("/auth/github/callback?code=the-code&state=forged", { cookie: `runboard_login=${loginCookie}` });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("Login did not complete");
    const noCookie = await get("/auth/github/callback?code=the-code&state=anything");
    expect(noCookie.status).toBe(400);
    expect(await sessionCount()).toBe(before);
  });

  it("shows a user only their installations: another installation's build page, fragment and API are 404", async () => {
    const list = await (await get("/builds", asUser())).text();
    expect(list).toContain("acme/web");
    expect(list).not.toContain("rival/secret-project");

    expect((await get(`/builds/${buildA}`, asUser())).status).toBe(200);
    expect((await get(`/builds/${buildB}`, asUser())).status).toBe(404);
    expect((await get(`/builds/${buildB}`, asUser({ "hx-request": "true" }))).status).toBe(404);
    expect((await get(`/builds/${buildB}/payload`, asUser({ "hx-request": "true" }))).status).toBe(404);
    expect((await get(`/api/builds/${buildA}`, asUser())).status).toBe(200);
    expect((await get(`/api/builds/${buildB}`, asUser())).status).toBe(404);

    const api = (await (await get("/api/builds", asUser())).json()) as { total: number };
    expect(api.total).toBe(1);
    const overview = await (await get("/fragments/overview", asUser({ "hx-request": "true" }))).text();
    expect(overview).not.toContain("rival/secret-project");
    const csv = await (await get("/builds.csv", asUser())).text();
    expect(csv).toContain("acme/web");
    expect(csv).not.toContain("rival/secret-project");
  });

  it("answers the API 401 without a valid bearer token, and API_TOKEN reads everything", async () => {
    const anonymous = await get("/api/builds");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await get("/api/builds", { authorization: "Bearer not-a-token" })).status).toBe(401);
    const operator = await get("/api/builds", { authorization: `Bearer ${API_TOKEN}` });
    expect(operator.status).toBe(200);
    expect(((await operator.json()) as { total: number }).total).toBe(2);
  });

  it("limits invalid bearer tokens and logins per address, and lets the address try again after the window", async () => {
    let clock = new Date("2026-12-01T12:00:00Z");
    const limited = await createTestServer(db.pool, {
      now: () => clock,
      auth: testAuth(() => clock),
    });
    const api = (token: string) => limited.request("/api/builds", { headers: { authorization: `Bearer ${token}` } });
    // A guesser changes the token every time: the limit is the address's.
    for (let i = 0; i < INVALID_TOKENS_PER_MINUTE; i++) expect((await api(`guess-${i}`)).status).toBe(401);
    const blocked = await api(API_TOKEN);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(blocked.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    clock = new Date(clock.getTime() + 61_000);
    expect((await api(API_TOKEN)).status).toBe(200);

    for (let i = 0; i < LOGINS_PER_MINUTE; i++) expect((await limited.request("/login")).status).not.toBe(429);
    const tooMany = await limited.request("/login");
    expect(tooMany.status).toBe(429);
    expect(tooMany.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("lets a user create a token scoped to their installations, stored hashed, and revoke it", async () => {
    const refused = await app.request("/account/tokens", {
      method: "POST",
      headers: asUser({ "content-type": "application/x-www-form-urlencoded" }),
      body: new URLSearchParams({ name: "ci script" }).toString(),
    });
    expect(refused.status).toBe(403);

    const created = await app.request("/account/tokens", {
      method: "POST",
      headers: asUser({ "content-type": "application/x-www-form-urlencoded", origin: BASE_URL }),
      body: new URLSearchParams({ name: "ci script", _csrf: csrfToken }).toString(),
    });
    expect(created.status).toBe(200);
    const token = /(rbt_[A-Za-z0-9_-]+)/.exec(await created.text())![1]!;
    const hashes = await db.pool.anyFirst(sql.type(z.object({ token_hash: z.string() }))`SELECT token_hash FROM api_tokens`);
    expect(hashes).toEqual([createHash("sha256").update(token).digest("hex")]);

    const bearer = { authorization: `Bearer ${token}` };
    expect(((await (await get("/api/builds", bearer)).json()) as { total: number }).total).toBe(1);
    expect((await get(`/api/builds/${buildB}`, bearer)).status).toBe(404);
    expect((await get(`/api/builds/${buildA}`, bearer)).status).toBe(200);

    const id = await db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM api_tokens`);
    const revoked = await app.request(`/account/tokens/${id}/revoke`, {
      method: "POST",
      headers: asUser({ "content-type": "application/x-www-form-urlencoded" }),
      body: new URLSearchParams({ _csrf: csrfToken }).toString(),
    });
    expect(revoked.status).toBe(303);
    expect((await get("/api/builds", bearer)).status).toBe(401);
  });

  it("refuses cross-site state-changing requests, whatever credentials they carry", async () => {
    const rules = JSON.stringify({ branches: ["main"] });
    const crossSite = await app.request("/api/alerts/configure", {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json", origin: "https://evil.example" },
      body: rules,
    });
    expect(crossSite.status).toBe(403);
    const fetchMetadata = await app.request("/logout", {
      method: "POST",
      headers: asUser({ "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" }),
      body: new URLSearchParams({ _csrf: csrfToken }).toString(),
    });
    expect(fetchMetadata.status).toBe(403);
    // The session survived both.
    expect((await get("/account", asUser())).status).toBe(200);
    expect(await sessionCount()).toBe(1);

    // A scoped user may not change the rules every installation shares; the operator's token may.
    const scoped = await app.request("/api/alerts/configure", {
      method: "POST",
      headers: asUser({ "content-type": "application/json", "x-csrf-token": csrfToken }),
      body: rules,
    });
    expect(scoped.status).toBe(403);
    const operator = await app.request("/api/alerts/configure", {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
      body: rules,
    });
    expect(operator.status).toBe(200);
  });

  it("tells a user's live pages only of their installations' builds", async () => {
    const stream = await get("/events", asUser());
    expect(stream.status).toBe(200);
    const events = readEvents(stream);
    const deliverRun = async (id: number, repository: string, installation: number) => {
      const payload = { ...runPayload(seed(id, repository)), installation: { id: installation, node_id: "x" } };
      expect((await deliver(app, { event: "workflow_run", payload })).status).toBe(200);
      return db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${id}`);
    };
    await events.waitFor(() => events.hello());
    const first = await deliverRun(9101, "acme/web", INSTALLATION_A);
    await events.waitFor(() => events.heard().includes(first));
    const hidden = await deliverRun(9102, "rival/secret-project", INSTALLATION_B);
    const last = await deliverRun(9103, "acme/web", INSTALLATION_A);
    await events.waitFor(() => events.heard().includes(last));
    await events.cancel();
    expect(events.heard()).not.toContain(hidden);
  });

  it("logs out: the session row is gone and the cookie no longer opens pages", async () => {
    const response = await app.request("/logout", {
      method: "POST",
      headers: asUser({ "content-type": "application/x-www-form-urlencoded", origin: BASE_URL }),
      body: new URLSearchParams({ _csrf: csrfToken }).toString(),
    });
    expect(response.status).toBe(303);
    expect(await sessionCount()).toBe(0);
    expect((await get("/builds", asUser())).status).toBe(302);
  });
});
