import { readFileSync } from "node:fs";
import type { Hono } from "hono";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { loadConfig } from "../../src/config.js";
import { APP_MANIFEST } from "../../src/github/app-manifest.js";
import { createGithubAppHolder, type GithubAppHolder } from "../../src/github/github-app-holder.js";
import { createWorkflowEventHandler } from "../../src/github/handle-workflow-event.js";
import { createRunboardApp } from "../../src/github/runboard-app.js";
import { createIngest } from "../../src/ingest.js";
import { createServer } from "../../src/web/create-server.js";
import { projectPath } from "../../src/project-path.js";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import { createLogger } from "../../src/logger.js";
import { createWebhookReceiver } from "../../src/github/receive-webhook.js";
import { deliver, silentLog, TestOctokit, testPrivateKey, WEBHOOK_SECRET, withWebhooks } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

const SECRET_KEY = "a-secret-key-of-at-least-32-characters-0123";
const NEW_WEBHOOK_SECRET = "whsec-from-github-6d1f0c9a";
const CLIENT_SECRET = "client-secret-from-github-93b1e7";
const BASE_URL = "https://runboard.test";
const runExample = workflowExamples().find((e) => e.event === "workflow_run")!;

/** What GitHub answers to a manifest conversion (the fields Runboard reads, and a few it ignores). */
function conversion(overrides: Record<string, unknown> = {}) {
  return {
    id: 4242,
    slug: "runboard-acme",
    name: "Runboard",
    node_id: "A_kwDOAA",
    owner: { login: "acme", id: 1, type: "Organization" },
    html_url: "https://github.com/apps/runboard-acme",
    client_id: "Iv23li-client-id",
    client_secret: CLIENT_SECRET,
    webhook_secret: NEW_WEBHOOK_SECRET,
    pem: testPrivateKey(),
    permissions: { actions: "write", checks: "write", metadata: "read" },
    events: ["workflow_run", "workflow_job"],
    ...overrides,
  };
}

interface Replica {
  app: Hono;
  holder: GithubAppHolder;
}

/** One Runboard process on `db`, as start() wires it: its own holder, loaded at start. */
async function replica(db: TestDatabase, env: Record<string, string> = {}, log: Logger = silentLog): Promise<Replica> {
  const config = loadConfig({ LOG_LEVEL: "silent", BASE_URL, SECRET_KEY, ...env });
  const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now: () => new Date(), sendDelayMs: 0 } });
  const handleWorkflowEvent = createWorkflowEventHandler({ ingest });
  const holder = createGithubAppHolder({
    pool: db.pool,
    config,
    log: silentLog,
    app: createRunboardApp({ pool: db.pool, now: () => new Date() }),
    Octokit: TestOctokit,
  });
  await holder.load();
  const server = createServer({
    pool: db.pool,
    log: silentLog,
    baseUrl: config.baseUrl,
    webhookPath: config.webhookPath,
    getProbot: () => holder.probot(),
    now: () => new Date(),
    syncStaleAfterMs: 600_000,
    live: null,
    alerts: { baseUrl: config.baseUrl, email: null, slack: null },
    setup: {
      holder,
      log,
      baseUrl: config.baseUrl,
      webhookPath: config.webhookPath,
      githubWebUrl: config.githubWebUrl,
      githubApiBaseUrl: config.githubApiBaseUrl,
    },
  });
  // Webhooks as start() receives them: the receiver looks for an app another replica stored.
  const receive = createWebhookReceiver({ getProbot: () => holder.probot(), refreshApp: () => holder.refresh(), handleWorkflowEvent, log: silentLog });
  const app = withWebhooks(server, config.webhookPath, receive);
  return { app, holder };
}

const unescapeHtml = (text: string) =>
  text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** Opens /setup as a browser would: the form GitHub receives and the state cookie. */
async function openSetup(app: Hono, query = "") {
  const response = await app.request(`/setup${query}`, { headers: { accept: "text/html" } });
  const body = await response.text();
  const action = /<form method="post" action="([^"]+)"/.exec(body)?.[1];
  const manifest = /<input type="hidden" name="manifest" value="([^"]+)"/.exec(body)?.[1];
  const cookie = /runboard_setup_state=([^;]+)/.exec(response.headers.get("set-cookie") ?? "")?.[1];
  return {
    response,
    body,
    action: action ? unescapeHtml(action) : undefined,
    manifest: manifest ? (JSON.parse(unescapeHtml(manifest)) as Record<string, unknown>) : undefined,
    cookie,
  };
}

function callback(app: Hono, query: Record<string, string>, cookie?: string) {
  return app.request(`/setup/callback?${new URLSearchParams(query)}`, {
    headers: { accept: "text/html", ...(cookie ? { cookie: `runboard_setup_state=${cookie}` } : {}) },
  });
}

const storedRows = (db: TestDatabase) =>
  db.pool.any(sql.type(z.object({ row: z.string() }))`SELECT row_to_json(app_credentials)::text AS row FROM app_credentials`);
const buildCount = (db: TestDatabase) => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM builds`);

describe("Connect to GitHub (app manifest flow)", () => {
  let databases: TestDatabase[] = [];
  const database = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return db;
  };

  beforeAll(() => nock.disableNetConnect());
  afterEach(async () => {
    nock.cleanAll();
    await Promise.all(databases.map((db) => db.drop()));
    databases = [];
  });
  afterAll(() => nock.enableNetConnect());

  it("stores the app's credentials sealed and accepts webhooks signed with its new secret, without a restart", async () => {
    const db = await database();
    const { app, holder } = await replica(db);

    expect((await deliver(app, { event: "workflow_run", payload: runExample.payload, secret: NEW_WEBHOOK_SECRET })).status).toBe(503);
    const overview = await (await app.request("/", { headers: { accept: "text/html" } })).text();
    expect(overview).toContain('<a href="/setup">Connect to GitHub</a>');

    const setup = await openSetup(app);
    expect(setup.response.status).toBe(200);
    expect(setup.cookie).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(setup.action).toBe(`https://github.com/settings/apps/new?state=${setup.cookie}`);
    expect(setup.response.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    expect(setup.response.headers.get("set-cookie")).toMatch(/SameSite=Lax/i);
    expect(setup.response.headers.get("content-security-policy")).toContain("form-action 'self' https://github.com;");
    expect(setup.manifest).toMatchObject({
      name: "Runboard",
      url: BASE_URL,
      hook_attributes: { url: `${BASE_URL}/api/github/webhooks`, active: true },
      redirect_url: `${BASE_URL}/setup/callback`,
      callback_urls: [`${BASE_URL}/auth/github/callback`],
      setup_url: `${BASE_URL}/setup/installed`,
      default_events: ["workflow_run", "workflow_job"],
      default_permissions: { actions: "write", checks: "write", metadata: "read" },
    });
    // Every other page keeps posting forms to this site only.
    expect((await app.request("/builds", { headers: { accept: "text/html" } })).headers.get("content-security-policy")).toContain(
      "form-action 'self';",
    );

    const github = nock("https://api.github.com").post("/app-manifests/code-8c1e/conversions").reply(201, conversion());
    const answer = await callback(app, { code: "code-8c1e", state: setup.cookie! }, setup.cookie);
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe("/setup/connected");
    expect(github.isDone()).toBe(true);

    const rows = await storedRows(db);
    expect(rows).toHaveLength(1);
    const row = rows[0]!.row;
    expect(row).toContain('"app_id":4242');
    expect(row).toContain('"client_id":"Iv23li-client-id"');
    const pemBody = testPrivateKey().split("\n")[1]!;
    for (const secret of [NEW_WEBHOOK_SECRET, CLIENT_SECRET, pemBody, "PRIVATE KEY"]) expect(row).not.toContain(secret);
    expect(JSON.parse(row)).toMatchObject({ private_key: expect.stringMatching(/^v1\./), webhook_secret: expect.stringMatching(/^v1\./) });

    const connected = await (await app.request("/setup/connected", { headers: { accept: "text/html" } })).text();
    expect(connected).toContain('href="https://github.com/apps/runboard-acme/installations/new"');
    expect(connected).toContain("Install on an organization");
    expect(holder.oauth()).toEqual({ clientId: "Iv23li-client-id", clientSecret: CLIENT_SECRET });

    expect((await deliver(app, { event: "workflow_run", payload: runExample.payload, secret: NEW_WEBHOOK_SECRET })).status).toBe(200);
    expect(await buildCount(db)).toBe(1);
    expect((await deliver(app, { event: "workflow_run", payload: runExample.payload, secret: WEBHOOK_SECRET })).status).toBe(401);

    // Registered once: the web never replaces the credentials.
    expect((await app.request("/setup", { headers: { accept: "text/html" } })).status).toBe(409);
    const again = await callback(app, { code: "code-2", state: setup.cookie! }, setup.cookie);
    expect(again.status).toBe(409);
    expect(await storedRows(db)).toEqual(rows);
  });

  it("another replica picks the stored app up on the next webhook, and a restart loads it", async () => {
    const db = await database();
    const first = await replica(db);
    const second = await replica(db);
    expect(second.holder.probot()).toBeNull();

    await first.holder.register({
      appId: 77,
      slug: "runboard-rival",
      htmlUrl: "https://github.com/apps/runboard-rival",
      clientId: "Iv1.rival",
      clientSecret: CLIENT_SECRET,
      webhookSecret: NEW_WEBHOOK_SECRET,
      privateKey: testPrivateKey(),
    });

    expect((await deliver(second.app, { event: "workflow_run", payload: runExample.payload, secret: NEW_WEBHOOK_SECRET })).status).toBe(200);
    expect(second.holder.github()?.appId).toBe(77);
    expect(await buildCount(db)).toBe(1);

    const restarted = await replica(db);
    expect(restarted.holder.github()).toMatchObject({ appId: 77, webhookSecret: NEW_WEBHOOK_SECRET, privateKey: testPrivateKey() });
    expect(restarted.holder.slug()).toBe("runboard-rival");
    expect(restarted.holder.oauth()).toEqual({ clientId: "Iv1.rival", clientSecret: CLIENT_SECRET });

    // The key that sealed them is needed to open them: another SECRET_KEY stops the start, saying why.
    await expect(replica(db, { SECRET_KEY: "another-secret-key-of-at-least-32-characters" })).rejects.toThrow(
      /SECRET_KEY does not open the stored GitHub App credentials/,
    );
  });

  it("refuses a callback whose state is wrong or missing with 400, storing nothing and asking GitHub nothing", async () => {
    const db = await database();
    const { app } = await replica(db);
    const setup = await openSetup(app);

    for (const [query, cookie] of [
      [{ code: "c1", state: "forged-state" }, setup.cookie],
      [{ code: "c1", state: setup.cookie! }, undefined],
      [{ code: "c1" }, setup.cookie],
    ] as const) {
      const answer = await callback(app, query, cookie);
      expect(answer.status).toBe(400);
      expect(await answer.text()).toContain("This registration was not started here");
    }
    const noCode = await callback(app, { state: setup.cookie! }, setup.cookie);
    expect(noCode.status).toBe(400);
    expect(await storedRows(db)).toEqual([]);
  });

  it("keeps nothing when GitHub refuses the code, and lets the page be reloaded when GitHub is down", async () => {
    const db = await database();
    const { app, holder } = await replica(db);
    const setup = await openSetup(app);

    nock("https://api.github.com").post("/app-manifests/used/conversions").reply(404, { message: "Not Found" });
    const refused = await callback(app, { code: "used", state: setup.cookie! }, setup.cookie);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("GitHub refused the code");

    const github = nock("https://api.github.com")
      .post("/app-manifests/fresh/conversions")
      .reply(502, "bad gateway")
      .post("/app-manifests/fresh/conversions")
      .reply(201, conversion());
    const down = await callback(app, { code: "fresh", state: setup.cookie! }, setup.cookie);
    expect(down.status).toBe(502);
    expect(await storedRows(db)).toEqual([]);
    expect(holder.probot()).toBeNull();

    expect((await callback(app, { code: "fresh", state: setup.cookie! }, setup.cookie)).status).toBe(303);
    expect(github.isDone()).toBe(true);
    expect(await storedRows(db)).toHaveLength(1);
  });

  it("never logs GitHub's one-time code when the exchange cannot reach GitHub", async () => {
    const db = await database();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const { app } = await replica(db, {}, createLogger("debug", stream as never));
    const setup = await openSetup(app);
    const code = "one-time-code-5b7e2c";
    nock("https://api.github.com").post(`/app-manifests/${code}/conversions`).replyWithError("connect ECONNREFUSED");
    const down = await callback(app, { code, state: setup.cookie! }, setup.cookie);
    expect(down.status).toBe(502);
    const logged = lines.join("");
    expect(logged).toContain("GitHub manifest conversion failed");
    expect(logged).not.toContain(code);
  });

  it("registers on a GitHub Enterprise host, for an organization", async () => {
    const db = await database();
    const { app, holder } = await replica(db, { GHE_HOST: "ghe.example.test" });

    const setup = await openSetup(app, "?organization=acme-corp");
    expect(setup.action).toBe(`https://ghe.example.test/organizations/acme-corp/settings/apps/new?state=${setup.cookie}`);
    expect(setup.response.headers.get("content-security-policy")).toContain("form-action 'self' https://ghe.example.test;");
    expect(setup.body).toContain("Connect to GitHub for acme-corp");

    const bad = await app.request("/setup?organization=%22%3E%3Cscript%3E", { headers: { accept: "text/html" } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain("<script>");

    const github = nock("https://ghe.example.test")
      .post("/api/v3/app-manifests/ghe-code/conversions")
      .reply(201, conversion({ html_url: "https://ghe.example.test/github-apps/runboard-acme" }));
    expect((await callback(app, { code: "ghe-code", state: setup.cookie! }, setup.cookie)).status).toBe(303);
    expect(github.isDone()).toBe(true);
    expect(holder.github()?.apiBaseUrl).toBe("https://ghe.example.test/api/v3");
    expect(await (await app.request("/setup/connected")).text()).toContain(
      'href="https://ghe.example.test/github-apps/runboard-acme/installations/new"',
    );
  });

  it("without SECRET_KEY says to set it and offers no button; with APP_ID set, answers 409", async () => {
    const db = await database();
    const withoutKey = await replica(db, { SECRET_KEY: "" });
    const setup = await openSetup(withoutKey.app);
    expect(setup.response.status).toBe(200);
    expect(setup.body).toContain("Set <code>SECRET_KEY</code>");
    expect(setup.body).not.toContain('name="manifest"');
    expect(setup.cookie).toBeUndefined();

    const configured = await replica(db, { APP_ID: "12345", PRIVATE_KEY: testPrivateKey(), WEBHOOK_SECRET });
    expect((await configured.app.request("/setup")).status).toBe(409);
    expect((await callback(configured.app, { code: "c", state: "s" }, "s")).status).toBe(409);
    expect(await storedRows(db)).toEqual([]);

    expect((await withoutKey.app.request("/setup/installed")).status).toBe(200);
  });

  it("app.yml is the manifest the code posts, with example addresses", () => {
    const yaml = parseYaml(readFileSync(projectPath("app.yml"), "utf8")) as unknown;
    expect(yaml).toEqual(APP_MANIFEST);
  });
});
