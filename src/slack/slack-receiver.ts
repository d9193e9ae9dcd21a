import type { App, Receiver, ReceiverEvent } from "@slack/bolt";
import { Hono } from "hono";
import type { Logger } from "pino";
import { slackSignatureProblem } from "./verify-slack-signature.js";

/** Slack gives up on an answer after 3 s; answer an unacknowledged request before that. */
const ACK_DEADLINE_MS = 2_500;
/** Slack's payloads are small; anything larger is not Slack. */
const MAX_BODY_BYTES = 1_000_000;

type Answer = { acked: true; body: unknown } | { acked: false };

export interface SlackReceiver extends Receiver {
  /** POST /slack/events, for the server's Hono app. */
  routes: Hono;
}

export interface SlackReceiverDeps {
  signingSecret: string;
  now: () => Date;
  log: Logger;
  ackDeadlineMs?: number;
}

/**
 * Bolt's receiver as a Hono route on the server's own port: checks Slack's signature (401
 * before any listener runs), reads form-encoded commands, `payload=` interactions and JSON
 * events, hands them to Bolt, and answers Slack as soon as the listener calls `ack()`. The
 * listener's slow work carries on after the answer.
 */
export function createSlackReceiver(deps: SlackReceiverDeps): SlackReceiver {
  let bolt: App | null = null;
  const routes = new Hono();

  routes.post("/slack/events", async (c) => {
    if (Number(c.req.header("content-length") ?? 0) > MAX_BODY_BYTES) return c.json({ error: "request too large" }, 413);
    const raw = await c.req.text();
    if (raw.length > MAX_BODY_BYTES) return c.json({ error: "request too large" }, 413);
    const problem = slackSignatureProblem(
      deps.signingSecret,
      { timestamp: c.req.header("x-slack-request-timestamp"), signature: c.req.header("x-slack-signature"), body: raw },
      deps.now(),
    );
    if (problem) {
      deps.log.warn({ problem }, "Slack request refused");
      return c.json({ error: `invalid Slack signature: ${problem}` }, 401);
    }
    const body = parseBody(raw, c.req.header("content-type") ?? "");
    if (!body) return c.json({ error: "unreadable Slack request body" }, 400);
    if (body.ssl_check) return c.body(null, 200);
    if (body.type === "url_verification") return c.json({ challenge: String(body.challenge ?? "") });
    if (!bolt) return c.json({ error: "Slack app not started" }, 503);

    let answer: (result: Answer) => void = () => {};
    const answered = new Promise<Answer>((resolve) => (answer = resolve));
    const retryNum = Number(c.req.header("x-slack-retry-num"));
    const retryReason = c.req.header("x-slack-retry-reason");
    const event: ReceiverEvent = {
      body,
      ack: async (response?: unknown) => answer({ acked: true, body: response }),
      ...(Number.isInteger(retryNum) ? { retryNum } : {}),
      ...(retryReason ? { retryReason } : {}),
    };
    const timer = setTimeout(() => answer({ acked: false }), deps.ackDeadlineMs ?? ACK_DEADLINE_MS);
    bolt
      .processEvent(event)
      .catch((error: unknown) => deps.log.error({ err: error }, "Slack listener failed"))
      // Nothing acknowledged the request (no listener matched, or one failed first).
      .finally(() => answer({ acked: false }));
    const result = await answered;
    clearTimeout(timer);
    if (!result.acked || result.body === undefined || result.body === "") return c.body(null, 200);
    if (typeof result.body === "string") return c.text(result.body);
    return c.json(result.body as object);
  });

  return {
    routes,
    init(app) {
      bolt = app;
    },
    // The HTTP server that carries the route is started and stopped with the rest (start.ts).
    start: async () => undefined,
    stop: async () => undefined,
  };
}

/** Slash commands are form fields; interactions a JSON `payload` field; events are JSON. */
function parseBody(raw: string, contentType: string): Record<string, any> | null {
  try {
    if (contentType.startsWith("application/json")) return object(JSON.parse(raw));
    if (contentType.startsWith("application/x-www-form-urlencoded")) {
      const form = new URLSearchParams(raw);
      const payload = form.get("payload");
      return payload !== null ? object(JSON.parse(payload)) : Object.fromEntries(form);
    }
  } catch {
    return null;
  }
  return null;
}

function object(json: unknown): Record<string, any> | null {
  return json && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, any>) : null;
}
