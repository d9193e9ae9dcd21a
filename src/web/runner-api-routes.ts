import { Hono } from "hono";
import type { DatabasePool } from "slonik";
import { z } from "zod";
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
