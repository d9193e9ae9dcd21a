import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Hono } from "hono";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProbot } from "../../src/github/create-probot.js";
import { createWorkflowEventHandler } from "../../src/github/handle-workflow-event.js";
import { createRunboardApp } from "../../src/github/runboard-app.js";
import { createWebhookReceiver } from "../../src/github/receive-webhook.js";
import { createIngest } from "../../src/ingest.js";
import { createRunboardMetrics, type RunboardMetrics } from "../../src/metrics/runboard-metrics.js";
import { createAuth } from "../../src/web/auth/create-auth.js";
import { INVALID_TOKENS_PER_MINUTE } from "../../src/web/auth/create-access-middleware.js";
import { createServer } from "../../src/web/create-server.js";
import { deliver, silentLog, testConfig, TestOctokit, withWebhooks } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const API_TOKEN = "openapi-test-token-0123456789";
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; schema: Record<string, unknown> }>;
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}
type Document = { paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>> } & Record<string, unknown>;

describe("/openapi.json", () => {
  let db: TestDatabase;
  let server: Hono;
  let app: Hono;
  let metrics: RunboardMetrics;
  let doc: Document;
  let buildId: number;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    db = await createTestDatabase();
    const now = () => new Date();
    metrics = createRunboardMetrics({ pool: db.pool, now });
    const ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: null, now, sendDelayMs: 0 } });
    const handleWorkflowEvent = createWorkflowEventHandler({ ingest });
    const probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    await probot.load(createRunboardApp({ pool: db.pool, now }));
    server = createServer({
      pool: db.pool,
      log: silentLog,
      webhookPath: "/api/github/webhooks",
      getProbot: () => probot,
      now,
      alerts: { baseUrl: "http://runboard.test", email: null, slack: null },
      live: null,
      baseUrl: "http://runboard.test",
      syncStaleAfterMs: 600_000,
      metrics,
      auth: createAuth({
        pool: db.pool,
        log: silentLog,
        now,
        baseUrl: "http://runboard.test",
        webhookPath: "/api/github/webhooks",
        apiToken: API_TOKEN,
        secretKey: null,
        secretBox: null,
        endpoints: { webUrl: "https://github.com", apiUrl: "https://api.github.com" },
        getOAuthClient: () => null,
      }),
    });
    app = withWebhooks(server, "/api/github/webhooks", createWebhookReceiver({ getProbot: () => probot, handleWorkflowEvent, log: silentLog, metrics }));
    // Real deliveries: a run and its jobs, so a build answers with jobs.
    for (const example of workflowExamples()) expect((await deliver(app, { event: example.event, payload: example.payload })).status).toBe(200);
    buildId = await db.pool.oneFirst(sql.unsafe`SELECT min(id) AS id FROM builds`);
    await db.pool.query(sql.unsafe`
      INSERT INTO installations (id, account, last_synced_at) VALUES (7, 'acme', now()), (8, 'never-synced', NULL)
      ON CONFLICT (id) DO UPDATE SET last_synced_at = EXCLUDED.last_synced_at`);
    doc = (await (await app.request("/openapi.json")).json()) as Document;
  });
  afterAll(async () => {
    nock.enableNetConnect();
    metrics.close();
    await db.drop();
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method]! })));

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("holds only JSON Schema 2020-12 that Ajv compiles strictly: no 3.0 `nullable`, no query parameter no value satisfies", () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    for (const { path, method, op } of operations()) {
      for (const [status, answer] of Object.entries(op.responses)) {
        for (const content of Object.values(answer.content ?? {})) expect(() => ajv.compile(content.schema), `${method} ${path} ${status}`).not.toThrow();
      }
      for (const parameter of op.parameters ?? []) {
        expect(() => ajv.compile(parameter.schema), `${method} ${path} ${parameter.name}`).not.toThrow();
        // limit, offset and days once came out as allOf [string, integer]: nothing is both.
        expect(JSON.stringify(parameter.schema)).not.toContain("allOf");
      }
    }
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
    const limit = doc.paths["/api/builds"]!.get!.parameters!.find((p) => p.name === "limit")!;
    expect(limit.schema).toEqual({ type: "integer", minimum: 1, maximum: 500, default: 50 });
    const days = doc.paths["/api/metrics/summary"]!.get!.parameters!.find((p) => p.name === "days")!;
    expect(days.schema.default).toBe(7);
  });

  it("describes every route of the API, each with an operationId, the bearer scheme and its 401 and 429 answers", () => {
    const served = new Set(
      server.routes
        .filter((r) => ["GET", "POST"].includes(r.method) && (r.path.startsWith("/api/") || ["/health", "/metrics", "/openapi.json"].includes(r.path)))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const described = new Set(operations().map(({ path, method }) => `${method} ${path}`));
    expect([...served].sort()).toEqual([...described].sort());
    expect(served).toContain("get /api/sync");

    const schemes = (doc.components as { securitySchemes: Record<string, { type: string; scheme?: string }> }).securitySchemes;
    expect(schemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of operations()) {
      if (op.security && op.security.length === 0) continue; // public: /health, /openapi.json
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(["401", "429"]));
    }
  });

  it("matches the real answers of every route, their errors included", async () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    const bearer = { authorization: `Bearer ${API_TOKEN}` };
    const json = { ...bearer, "content-type": "application/json" };
    const firstPage = (await (await app.request("/api/builds?limit=1", { headers: bearer })).json()) as { next_before: string };
    const calls: Array<{ method: "get" | "post"; path: string; url: string; status: number; headers?: Record<string, string>; body?: string }> = [
      { method: "get", path: "/health", url: "/health", status: 200 },
      { method: "get", path: "/openapi.json", url: "/openapi.json", status: 200 },
      { method: "get", path: "/metrics", url: "/metrics", status: 200, headers: bearer },
      { method: "get", path: "/metrics", url: "/metrics", status: 401 },
      { method: "get", path: "/api/builds", url: "/api/builds", status: 200, headers: bearer },
      { method: "get", path: "/api/builds", url: "/api/builds?limit=2&status=success", status: 200, headers: bearer },
      { method: "get", path: "/api/builds", url: `/api/builds?limit=2&before=${firstPage.next_before}`, status: 200, headers: bearer },
      { method: "get", path: "/api/builds", url: "/api/builds?before=x%2Fy", status: 400, headers: bearer },
      { method: "get", path: "/api/builds", url: "/api/builds?limit=0", status: 400, headers: bearer },
      { method: "get", path: "/api/builds", url: "/api/builds", status: 401 },
      { method: "get", path: "/api/builds/{id}", url: `/api/builds/${buildId}`, status: 200, headers: bearer },
      { method: "get", path: "/api/builds/{id}", url: "/api/builds/999999999", status: 404, headers: bearer },
      { method: "get", path: "/api/metrics/summary", url: "/api/metrics/summary?days=30", status: 200, headers: bearer },
      { method: "get", path: "/api/metrics/summary", url: "/api/metrics/summary?days=x", status: 400, headers: bearer },
      { method: "get", path: "/api/sync", url: "/api/sync", status: 200, headers: bearer },
      { method: "get", path: "/api/failures", url: "/api/failures?days=30&repository=acme%2Fapi", status: 200, headers: bearer },
      { method: "get", path: "/api/failures", url: "/api/failures?days=91", status: 400, headers: bearer },
      { method: "get", path: "/api/metrics/queue", url: "/api/metrics/queue?days=30&labels=ubuntu-latest", status: 200, headers: bearer },
      { method: "get", path: "/api/metrics/queue", url: "/api/metrics/queue?days=0", status: 400, headers: bearer },
      { method: "get", path: "/api/metrics/usage", url: "/api/metrics/usage?days=30", status: 200, headers: bearer },
      { method: "get", path: "/api/metrics/usage", url: "/api/metrics/usage?days=x", status: 400, headers: bearer },
      { method: "post", path: "/api/alert/test", url: "/api/alert/test", status: 200, headers: json, body: "" },
      { method: "post", path: "/api/alert/test", url: "/api/alert/test", status: 415, headers: bearer, body: "x" },
      { method: "get", path: "/api/alerts", url: "/api/alerts", status: 200, headers: bearer },
      { method: "get", path: "/api/alerts", url: "/api/alerts?offset=-1", status: 400, headers: bearer },
      {
        method: "post",
        path: "/api/alerts/configure",
        url: "/api/alerts/configure",
        status: 200,
        headers: json,
        body: JSON.stringify({ branches: ["main"], routes: [{ repository: "acme/*", slack_channel: "#ci" }] }),
      },
      { method: "post", path: "/api/alerts/configure", url: "/api/alerts/configure", status: 400, headers: json, body: JSON.stringify({ branches: "main" }) },
      { method: "get", path: "/api/alerts/configure", url: "/api/alerts/configure", status: 200, headers: bearer },
    ];
    const answered = new Set<string>();
    for (const call of calls) {
      const response = await app.request(call.url, { method: call.method.toUpperCase(), headers: call.headers, body: call.body });
      expect(response.status, `${call.method} ${call.url}`).toBe(call.status);
      const declared = doc.paths[call.path]![call.method]!.responses[String(call.status)];
      expect(declared, `${call.method} ${call.path} declares ${call.status}`).toBeDefined();
      const [type, content] = Object.entries(declared!.content ?? {})[0]!;
      expect(response.headers.get("content-type")).toContain(type);
      const body = type === "application/json" ? await response.json() : await response.text();
      const validate = ajv.compile(content.schema);
      expect(validate(body) ? [] : validate.errors, `${call.method} ${call.url} ${call.status}`).toEqual([]);
      if (call.status === 200) answered.add(`${call.method} ${call.path}`);
    }
    // Every described operation was seen answering 200.
    expect([...answered].sort()).toEqual(operations().map(({ path, method }) => `${method} ${path}`).sort());

    // 429: invalid bearer tokens past the limit.
    let last: Response | undefined;
    for (let i = 0; i <= INVALID_TOKENS_PER_MINUTE; i++) {
      last = await app.request("/api/builds", { headers: { authorization: `Bearer wrong-${i}`, "x-forwarded-for": "203.0.113.9" } });
    }
    expect(last!.status).toBe(429);
    const tooMany = ajv.compile(doc.paths["/api/builds"]!.get!.responses["429"]!.content!["application/json"]!.schema);
    expect(tooMany(await last!.json())).toBe(true);
  });
});
