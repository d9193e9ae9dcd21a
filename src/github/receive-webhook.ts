import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { RunboardMetrics, WebhookOutcome } from "../metrics/runboard-metrics.js";
import { WriteUnavailableError } from "../ingest.js";
import { WORKFLOW_EVENTS, type WorkflowEventHandler } from "./handle-workflow-event.js";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

/** Thrown by a body reader once more than {@link MAX_WEBHOOK_BODY_BYTES} have arrived. */
export class BodyTooLargeError extends Error {
  constructor() {
    super(`body larger than ${MAX_WEBHOOK_BODY_BYTES} bytes`);
  }
}

/** One webhook request, whatever server carried it. */
export interface IncomingWebhook {
  header(name: string): string | undefined;
  /** The raw body as text; throws {@link BodyTooLargeError} past the cap. */
  readBody(): Promise<string>;
}

/** What to answer: a status and a small JSON body. */
export interface WebhookAnswer {
  status: number;
  body: { ok: true } | { error: string };
}

export type WebhookReceiver = (request: IncomingWebhook) => Promise<WebhookAnswer>;

/** Events the Runboard app records itself when they reach Probot (installation state). */
const RECORDED_THROUGH_PROBOT = new Set(["installation", "installation_repositories"]);

const REQUIRED_HEADERS = ["x-github-delivery", "x-github-event", "x-hub-signature-256"] as const;

/**
 * Probot's webhook endpoint, independent of the HTTP server that carries it:
 * 1. answer 503 while no GitHub App is configured (after looking for one stored by another replica)
 * 2. check the headers
 * 3. read the body (capped) and verify its signature before anything is parsed
 * 4. parse it, then record workflow events through `normalize` and `ingest`; hand the others to Probot
 * 5. count and time the delivery
 */
export function createWebhookReceiver(deps: {
  getProbot: () => Probot | null;
  /** Loads an app stored by "Connect to GitHub" (possibly on another replica). */
  refreshApp?: () => Promise<unknown>;
  handleWorkflowEvent: WorkflowEventHandler;
  log: Logger;
  metrics?: RunboardMetrics;
}): WebhookReceiver {
  const { log, metrics } = deps;

  function answer(event: string | undefined, started: number, status: number, body: WebhookAnswer["body"], recorded?: "stored" | "ignored"): WebhookAnswer {
    if (metrics) {
      let outcome: WebhookOutcome;
      if (status >= 500) outcome = "failed";
      else if (status >= 400) outcome = "rejected";
      else outcome = recorded ?? (event && RECORDED_THROUGH_PROBOT.has(event) ? "stored" : "ignored");
      metrics.webhookHandled(event, outcome, status, (performance.now() - started) / 1000);
    }
    return { status, body };
  }

  return async (request) => {
    const started = performance.now();
    const event = request.header("x-github-event");
    metrics?.webhookReceived(event);

    if (!deps.getProbot() && deps.refreshApp) await deps.refreshApp();
    const probot = deps.getProbot();
    if (!probot) {
      return answer(event, started, 503, {
        error:
          "GitHub App not configured: connect one from /setup on the dashboard, or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET and restart Runboard",
      });
    }
    for (const header of REQUIRED_HEADERS) {
      if (!request.header(header)) return answer(event, started, 400, { error: `missing header ${header}` });
    }
    const id = request.header("x-github-delivery")!;
    const name = event!;

    let body: string;
    try {
      body = await request.readBody();
    } catch (error) {
      if (error instanceof BodyTooLargeError) return answer(event, started, 413, { error: error.message });
      // The sender went away mid-body (or the stream broke): nothing was stored; GitHub retries.
      log.debug({ err: error, deliveryId: id, event: name }, "webhook body could not be read");
      return answer(event, started, 400, { error: "the body could not be read" });
    }
    if (!(await probot.webhooks.verify(body, request.header("x-hub-signature-256")!).catch(() => false))) {
      log.warn({ deliveryId: id, event: name }, "webhook signature does not match: verify that WEBHOOK_SECRET matches the app's webhook secret on GitHub");
      return answer(event, started, 401, { error: "signature does not match the webhook secret" });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return answer(event, started, 400, { error: "body is not valid JSON" });
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      return answer(event, started, 400, { error: "body must be a JSON object" });
    }

    try {
      if (WORKFLOW_EVENTS.has(name)) {
        // The volume is here, and recording it needs no GitHub client: skip the installation
        // Octokit that probot.receive builds for every event.
        const result = await deps.handleWorkflowEvent({ id, name, payload: payload as Record<string, unknown> }, log);
        return answer(event, started, 200, { ok: true }, result?.outcome === "changed" ? "stored" : "ignored");
      }
      await probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);
      return answer(event, started, 200, { ok: true });
    } catch (error) {
      if (error instanceof WriteUnavailableError) {
        log.warn({ err: error, deliveryId: id, event: name }, "webhook not stored in time: the database is busy or unreachable; the delivery can be redelivered");
        return answer(event, started, 503, { error: "the event could not be stored in time; it was not recorded and can be redelivered" });
      }
      log.error({ err: error, deliveryId: id, event: name }, "webhook handler failed; the delivery can be redelivered from the app's settings on GitHub");
      return answer(event, started, 500, { error: "the event could not be stored; it was not recorded and can be redelivered" });
    }
  };
}
