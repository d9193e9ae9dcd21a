import { Hono } from "hono";
import { BodyTooLargeError, MAX_WEBHOOK_BODY_BYTES, type WebhookReceiver } from "./receive-webhook.js";

/** Reads a web request's body as text, counting bytes as they arrive (chunked bodies too). */
async function readCapped(request: Request): Promise<string> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_WEBHOOK_BODY_BYTES) throw new BodyTooLargeError();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_WEBHOOK_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The webhook endpoint on Hono, for `app.request()` and any fetch-style server. The Node server
 * of `start()` answers the same path before Hono (see webhook-listener.ts); both hand the
 * request to the same receiver.
 */
export function createWebhookRoute(deps: { path: string; receive: WebhookReceiver }): Hono {
  const app = new Hono();
  app.post(deps.path, async (c) => {
    const answer = await deps.receive({ header: (name) => c.req.header(name), readBody: () => readCapped(c.req.raw) });
    return c.json(answer.body, answer.status as 200);
  });
  return app;
}
