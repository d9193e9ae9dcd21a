import { Hono } from "hono";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { zodToJsonSchema } from "zod-to-json-schema";
import { parseLabelSet } from "../domain/queue-time.js";
import type { RunnerMultiplier } from "../domain/runner-minutes.js";
import { scopeOf } from "./auth/access.js";
import { parseQuery } from "./parse-query.js";
import { loadQueueReport, loadUsageReport, queueReportSchema, usageReportSchema } from "./runner-insights.js";

const filter = z.string().trim().max(255).optional().transform((value) => value || undefined);
const days = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(365, "must be at most 365"))
    .optional()
    .transform((value) => value ?? fallback);

export const queueQuery = z
  .object({
    days: days(7),
    repository: filter,
    labels: z
      .string()
      .max(1000)
      .optional()
      .transform((value) => (value ? parseLabelSet(value) : undefined))
      .transform((labels) => (labels && labels.length > 0 ? labels : undefined)),
  })
  .strict();

export const usageQuery = z.object({ days: days(30), repository: filter }).strict();

/** `GET /api/metrics/queue` and `GET /api/metrics/usage`: runner queue time and estimated minutes. */
export function createRunnerApiRoutes(deps: { pool: DatabasePool; now: () => Date; runnerMultipliers: readonly RunnerMultiplier[] }): Hono {
  const app = new Hono();

  app.get("/metrics/queue", async (c) => {
    const q = parseQuery(c, queueQuery);
    return c.json(await loadQueueReport(deps.pool, { ...q, now: deps.now(), installations: scopeOf(c) }));
  });

  app.get("/metrics/usage", async (c) => {
    const q = parseQuery(c, usageQuery);
    return c.json(await loadUsageReport(deps.pool, { ...q, now: deps.now(), installations: scopeOf(c), multipliers: deps.runnerMultipliers }));
  });

  return app;
}

function jsonSchema(zod: z.ZodTypeAny, io: "input" | "output" = "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = zodToJsonSchema(zod, {
    target: "openApi3",
    $refStrategy: "none",
    ...(io === "input" ? { effectStrategy: "input" as const } : {}),
  }) as Record<string, unknown>;
  return rest;
}

function queryParameters(query: z.AnyZodObject, descriptions: Record<string, string>) {
  const properties = (jsonSchema(query, "input") as { properties: Record<string, Record<string, unknown>> }).properties;
  return Object.entries(properties).map(([name, schema]) => ({ name, in: "query", required: false, description: descriptions[name], schema }));
}

/** The OpenAPI paths of these routes, from the same zod schemas that validate and shape them. */
export function runnerApiPaths() {
  const answer = (description: string, schema: z.ZodTypeAny) => ({ description, content: { "application/json": { schema: jsonSchema(schema) } } });
  const refused = answer("Refused, with the reason", z.object({ error: z.string(), parameter: z.string().optional() }));
  return {
    "/api/metrics/queue": {
      get: {
        summary: "Queue time (queued to started) of jobs that ran, and jobs waiting for a runner now",
        parameters: queryParameters(queueQuery, {
          days: "Window in days, 1-365 (default 7)",
          repository: "owner/name",
          labels: "One runner label set, comma-separated (exactly these labels, in any order)",
        }),
        responses: { "200": answer("Queue time percentiles in seconds", queueReportSchema), "400": refused },
      },
    },
    "/api/metrics/usage": {
      get: {
        summary: "Estimated Actions minutes per repository, workflow and month (an estimate, not GitHub's bill)",
        parameters: queryParameters(usageQuery, { days: "Window in days, 1-365 (default 30)", repository: "owner/name" }),
        responses: { "200": answer("Estimated minutes", usageReportSchema), "400": refused },
      },
    },
  };
}
