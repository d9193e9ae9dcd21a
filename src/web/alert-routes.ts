import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { alertContent } from "../alerts/alert-content.js";
import type { EmailSender } from "../alerts/email-sender.js";
import { renderEmail } from "../alerts/render-email.js";
import { renderSlack } from "../alerts/render-slack.js";
import type { SlackClient } from "../alerts/slack-client.js";
import { getAlertRules, saveAlertRules } from "../db/alert-settings.js";
import { alertHistorySchema, insertAlert, listAlerts } from "../db/alerts.js";
import { alertRulesSchema } from "../domain/alert-rules.js";
import { requireUnscoped, scopeOf } from "./auth/access.js";
import { parseQuery, wholeNumber } from "./parse-query.js";

export const pageQuery = z
  .object({
    limit: wholeNumber(1, 500, 50),
    offset: wholeNumber(0, 10_000_000, 0),
  })
  .strict();

/** GET /api/alerts's answer. */
export const alertsAnswerSchema = z.object({ alerts: z.array(alertHistorySchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });

const channelResultSchema = z.object({ status: z.enum(["sent", "failed", "not configured"]), error: z.string().optional() });

/** POST /api/alert/test's answer: what happened on each channel. */
export const testAlertAnswerSchema = z.object({ email: channelResultSchema, slack: channelResultSchema });

export interface AlertRouteDeps {
  pool: DatabasePool;
  baseUrl: string;
  email: { sender: EmailSender; to: string[] } | null;
  slack: { client: SlackClient; channel: string | null } | null;
}

type ChannelResult = z.infer<typeof channelResultSchema>;

/**
 * Alert history, routing rules and the test alert, under /api.
 * State-changing requests must be JSON, which a cross-site form cannot send.
 */
export function createAlertRoutes(deps: AlertRouteDeps): Hono {
  const app = new Hono();

  app.get("/alerts", async (c) => {
    const { limit, offset } = parseQuery(c, pageQuery);
    const answer: z.infer<typeof alertsAnswerSchema> = { ...(await listAlerts(deps.pool, { limit, offset, installations: scopeOf(c) })), limit, offset };
    return c.json(answer);
  });

  app.get("/alerts/configure", async (c) => c.json(await getAlertRules(deps.pool)));

  app.post("/alerts/configure", async (c) => {
    requireUnscoped(c);
    const body = await readJson(c.req.raw);
    const parsed = alertRulesSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field =
        issue.code === "unrecognized_keys" ? [...issue.path, ...issue.keys].join(".") : issue.path.join(".") || "(body)";
      const message = issue.code === "unrecognized_keys" ? "is not a known field" : issue.message;
      return c.json({ error: `invalid rule ${field}: ${message}`, field }, 400);
    }
    await saveAlertRules(deps.pool, parsed.data);
    return c.json(parsed.data);
  });

  app.post("/alert/test", async (c) => {
    requireUnscoped(c);
    await readJson(c.req.raw, { optional: true });
    const content = alertContent("test", null, {}, deps.baseUrl);
    const result: Record<"email" | "slack", ChannelResult> = {
      email: { status: "not configured" },
      slack: { status: "not configured" },
    };
    if (deps.email && deps.email.to.length > 0) {
      result.email = await attempt(() =>
        deps.email!.sender.send({ ...renderEmail(content), to: deps.email!.to, messageId: `<test-${randomUUID()}@runboard>` }),
      );
    }
    if (deps.slack?.channel) {
      result.slack = await attempt(() => deps.slack!.client.postMessage({ channel: deps.slack!.channel!, ...renderSlack(content) }));
    }
    for (const channel of ["email", "slack"] as const) {
      const r = result[channel];
      await insertAlert(deps.pool, {
        buildId: null,
        runAttempt: null,
        kind: "test",
        channel,
        target: channel === "email" ? (deps.email?.to ?? []) : deps.slack?.channel ? [deps.slack.channel] : [],
        status: r.status === "not configured" ? "skipped" : r.status,
        lastError: r.status === "not configured" ? `${channel} not configured` : (r.error ?? null),
        attempts: r.status === "not configured" ? 0 : 1,
      });
    }
    return c.json(result);
  });

  return app;
}

async function attempt(send: () => Promise<unknown>): Promise<ChannelResult> {
  try {
    await send();
    return { status: "sent" };
  } catch (error) {
    return { status: "failed", error: error instanceof Error ? error.message : String(error) };
  }
}

async function readJson(request: Request, options: { optional?: boolean } = {}): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw new HTTPException(415, {
      res: Response.json({ error: "send the request as application/json" }, { status: 415 }),
    });
  }
  const text = await request.text();
  if (options.optional && text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HTTPException(400, { res: Response.json({ error: "body is not valid JSON" }, { status: 400 }) });
  }
}
