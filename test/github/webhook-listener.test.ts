import { randomUUID } from "node:crypto";
import http, { type Server } from "node:http";
import net, { type AddressInfo } from "node:net";
import { sign } from "@octokit/webhooks-methods";
import { getRequestListener } from "@hono/node-server";
import { sql } from "slonik";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createWebhookListener } from "../../src/github/webhook-listener.js";
import { MAX_WEBHOOK_BODY_BYTES, type WebhookAnswer, type WebhookReceiver } from "../../src/github/receive-webhook.js";
import { createTestServer, createTestWebhookReceiver, silentLog, WEBHOOK_SECRET } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

const runExample = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.status === "completed")!;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request, so chunked bodies and odd headers go out exactly as written. */
function request(port: number, options: { method?: string; path?: string; headers?: Record<string, string | number>; body?: Buffer | string | Array<Buffer | string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: options.method ?? "POST", path: options.path ?? "/api/github/webhooks", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    // A server that answers before the whole body is sent may close the socket under us.
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "EPIPE" || error.code === "ECONNRESET" ? undefined : reject(error)));
    const parts = Array.isArray(options.body) ? options.body : options.body === undefined ? [] : [options.body];
    for (const part of parts) req.write(part);
    req.end();
  });
}

async function signedHeaders(body: string, event = "workflow_run", secret = WEBHOOK_SECRET) {
  return {
    "content-type": "application/json",
    "x-github-delivery": randomUUID(),
    "x-github-event": event,
    "x-hub-signature-256": await sign(secret, body),
  };
}

describe("webhooks served by the Node server directly", () => {
  let db: TestDatabase;
  let server: Server;
  let port: number;
  /** What the receiver answered, in order (a sender that went away never reads it). */
  const answers: Array<WebhookAnswer | Error> = [];

  const stored = () =>
    db.pool.one(sql.type(z.object({ builds: z.number(), deliveries: z.number() }))`
      SELECT (SELECT count(*)::int FROM builds) AS builds, (SELECT count(*)::int FROM deliveries) AS deliveries`);

  beforeAll(async () => {
    db = await createTestDatabase();
    const app = await createTestServer(db.pool);
    const real = await createTestWebhookReceiver(db.pool);
    const receive: WebhookReceiver = (request) =>
      real(request).then(
        (answer) => {
          answers.push(answer);
          return answer;
        },
        (error: Error) => {
          answers.push(error);
          throw error;
        },
      );
    server = http.createServer(createWebhookListener({ path: "/api/github/webhooks", receive, next: getRequestListener(app.fetch), log: silentLog }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await db.drop();
  });
  beforeEach(async () => {
    answers.length = 0;
    await db.pool.query(sql.unsafe`TRUNCATE builds, build_jobs, deliveries CASCADE`);
  });

  it("stores a signed delivery once, and answers a redelivery of it without storing it again", async () => {
    const body = JSON.stringify(runExample.payload);
    const headers = await signedHeaders(body);
    const first = await request(port, { headers, body });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toEqual({ ok: true });
    expect(first.headers["content-type"]).toMatch(/^application\/json/);
    expect(first.headers["x-content-type-options"]).toBe("nosniff");
    const again = await request(port, { headers, body });
    expect(again.status).toBe(200);
    expect(await stored()).toEqual({ builds: 1, deliveries: 1 });
  });

  it("reads a chunked body without Content-Length", async () => {
    const body = JSON.stringify(runExample.payload);
    const half = Math.floor(body.length / 2);
    const response = await request(port, { headers: await signedHeaders(body), body: [body.slice(0, half), body.slice(half)] });
    expect(response.status).toBe(200);
    expect(await stored()).toEqual({ builds: 1, deliveries: 1 });
  });

  it("refuses a bad signature, a missing header and a malformed body with 4xx, and stores nothing", async () => {
    const body = JSON.stringify(runExample.payload);
    const badSignature = await request(port, { headers: await signedHeaders(body, "workflow_run", "not-the-secret"), body });
    expect(badSignature.status).toBe(401);
    expect(JSON.parse(badSignature.body)).toEqual({ error: "signature does not match the webhook secret" });

    const { "x-github-delivery": _, ...noDelivery } = await signedHeaders(body);
    const missing = await request(port, { headers: noDelivery, body });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toEqual({ error: "missing header x-github-delivery" });

    const malformed = "{not json";
    const notJson = await request(port, { headers: await signedHeaders(malformed), body: malformed });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toEqual({ error: "body is not valid JSON" });

    expect(await stored()).toEqual({ builds: 0, deliveries: 0 });
  });

  it("refuses a body past 25 MB with 413, whether announced or chunked", async () => {
    const announced = await request(port, {
      headers: { ...(await signedHeaders("{}")), "content-length": MAX_WEBHOOK_BODY_BYTES + 1 },
    });
    expect(announced.status).toBe(413);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const chunked = await request(port, { headers: await signedHeaders("{}"), body: Array.from({ length: 26 }, () => chunk) });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toEqual({ error: `body larger than ${MAX_WEBHOOK_BODY_BYTES} bytes` });
    expect(await stored()).toEqual({ builds: 0, deliveries: 0 });
  });

  it("answers a sender that goes away mid-body with a 400 of its own, stores nothing, and serves the next", async () => {
    const body = JSON.stringify(runExample.payload);
    const headers = await signedHeaders(body);
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST /api/github/webhooks HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${body.length}\r\n` +
        Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") +
        `\r\n${body.slice(0, 100)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const started = Date.now();
    while (answers.length === 0 && Date.now() - started < 2_000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answers).toEqual([{ status: 400, body: { error: "the body could not be read" } }]);
    expect(await stored()).toEqual({ builds: 0, deliveries: 0 });

    const next = await request(port, { headers: await signedHeaders(body), body });
    expect(next.status).toBe(200);
    expect(await stored()).toEqual({ builds: 1, deliveries: 1 });
  });

  it("passes every other request to the Hono app", async () => {
    const health = await request(port, { method: "GET", path: "/health" });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok", database: "ok" });
    // A GET on the webhook path is not a delivery: Hono answers it (no such route).
    const getHook = await request(port, { method: "GET", path: "/api/github/webhooks" });
    expect(getHook.status).toBe(404);
    expect(await stored()).toEqual({ builds: 0, deliveries: 0 });
  });
});
