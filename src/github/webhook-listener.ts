import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { BodyTooLargeError, MAX_WEBHOOK_BODY_BYTES, type WebhookAnswer, type WebhookReceiver } from "./receive-webhook.js";

/** Webhook answers go to GitHub, not to a browser: JSON, never sniffed, framed or rendered. */
const ANSWER_HEADERS = {
  "content-type": "application/json; charset=UTF-8",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

function readCapped(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(request.headers["content-length"] ?? 0) > MAX_WEBHOOK_BODY_BYTES) return reject(new BodyTooLargeError());
    // Gone while the receiver was busy before reading (looking for a stored app, say).
    if (request.destroyed) return reject(new Error("the request was closed before its body was read"));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_WEBHOOK_BODY_BYTES) {
        request.off("data", onData);
        request.resume(); // drain the rest unread; the answer closes the connection
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => resolve(Buffer.concat(chunks, size).toString("utf8")));
    request.once("error", reject);
    request.once("close", () => {
      if (!request.complete) reject(new Error("the request was closed before its body ended"));
    });
  });
}

function send(response: ServerResponse, answer: WebhookAnswer): void {
  const headers: Record<string, string> = { ...ANSWER_HEADERS };
  // A refused body may still be arriving: do not wait for it on this connection.
  if (answer.status === 413) headers.connection = "close";
  response.writeHead(answer.status, headers).end(JSON.stringify(answer.body));
}

/**
 * Answers POSTs to the webhook path straight from Node's HTTP server and passes every other
 * request to `next` (the Hono app). Deliveries are the only high-volume traffic, and building a
 * web `Request` with a body stream for each cost about a third of the app's CPU per delivery
 * under load (bench/RESULTS.md); the receiver behind it is the one the Hono route uses.
 */
export function createWebhookListener(deps: { path: string; receive: WebhookReceiver; next: RequestListener; log: Logger }): RequestListener {
  return (request, response) => {
    if (request.method !== "POST" || (request.url !== deps.path && request.url?.split("?", 1)[0] !== deps.path)) {
      deps.next(request, response);
      return;
    }
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    deps.receive({ header, readBody: () => readCapped(request) }).then(
      (answer) => send(response, answer),
      (error: unknown) => {
        deps.log.error({ err: error, deliveryId: header("x-github-delivery") }, "webhook request failed");
        if (!response.headersSent) send(response, { status: 500, body: { error: "internal error" } });
      },
    );
  };
}
