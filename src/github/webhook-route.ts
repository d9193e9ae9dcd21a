import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "pino";
import type { Probot } from "probot";
import { WORKFLOW_EVENTS, type WorkflowEventHandler } from "./handle-workflow-event.js";

/**
 * Context key under which a workflow delivery's outcome is left for the middleware around the
 * route (metrics): "stored" when it changed what is recorded, "ignored" otherwise.
 */
export const INGEST_OUTCOME = "runboardIngestOutcome";

/** GitHub caps webhook payloads at 25 MB. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;

/**
 * Probot's webhook endpoint on Hono: checks the headers, verifies the signature over the raw
 * body before anything is parsed, then hands the event to Probot's handlers.
 * @param getProbot the current app, or null while no GitHub App is configured.
 */
export function createWebhookRoute(deps: {
  path: string;
  getProbot: () => Probot | null;
  handleWorkflowEvent: WorkflowEventHandler;
  log: Logger;
}): Hono {
  const app = new Hono();

  app.post(
    deps.path,
    // Counts the bytes as they arrive, so a chunked body without Content-Length is capped too.
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: `body larger than ${MAX_BODY_BYTES} bytes` }, 413) }),
    async (c) => {
      const probot = deps.getProbot();
      if (!probot) {
        return c.json(
          {
            error:
              "GitHub App not configured: connect one from /setup on the dashboard, or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET and restart Runboard",
          },
          503,
        );
      }
      for (const header of ["x-github-delivery", "x-github-event", "x-hub-signature-256"]) {
        if (!c.req.header(header)) {
          return c.json({ error: `missing header ${header}` }, 400);
        }
      }
      const id = c.req.header("x-github-delivery")!;
      const name = c.req.header("x-github-event")!;
      const signature = c.req.header("x-hub-signature-256")!;
      const log = deps.log.child({ deliveryId: id, event: name });

      const body = await c.req.text();
      if (!(await probot.webhooks.verify(body, signature).catch(() => false))) {
        log.warn("webhook signature does not match: verify that WEBHOOK_SECRET matches the app's webhook secret on GitHub");
        return c.json({ error: "signature does not match the webhook secret" }, 401);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        return c.json({ error: "body is not valid JSON" }, 400);
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return c.json({ error: "body must be a JSON object" }, 400);
      }

      try {
        if (WORKFLOW_EVENTS.has(name)) {
          // The volume is here, and recording it needs no GitHub client: skip the installation
          // Octokit that probot.receive builds for every event.
          const result = await deps.handleWorkflowEvent({ id, name, payload: payload as Record<string, unknown> }, log);
          c.set(INGEST_OUTCOME as never, (result?.outcome === "changed" ? "stored" : "ignored") as never);
        } else {
          await probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);
        }
      } catch (error) {
        log.error({ err: error }, "webhook handler failed; the delivery can be redelivered from the app's settings on GitHub");
        return c.json({ error: "the event could not be stored; it was not recorded and can be redelivered" }, 500);
      }
      return c.json({ ok: true });
    },
  );

  return app;
}
