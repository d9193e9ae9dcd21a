import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { getMetricsSummary } from "../db/build-metrics.js";
import { getBuild, listBuilds } from "../db/builds.js";
import { describeHistoryProgress } from "../domain/history-progress.js";
import { describeFreshness } from "../domain/freshness.js";
import { STATUSES } from "../domain/status.js";
import { parseQuery } from "./parse-query.js";
import { scopeOf } from "./auth/access.js";
import { getFreshness, getHistoryProgress } from "../db/sync-repositories.js";

const filter = z.string().trim().max(255).optional().transform((value) => value || undefined);
const whole = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((value) => value ?? fallback);

export const buildsQuery = z
  .object({
    limit: whole(1, 500, 50),
    offset: whole(0, 10_000_000, 0),
    status: z
      .union([z.literal(""), z.enum(STATUSES, { message: `must be one of ${STATUSES.join(", ")}` })])
      .optional()
      .transform((value) => value || undefined),
    repository: filter,
    branch: filter,
    workflow: filter,
    triggered_by: filter,
  })
  .strict();

export const summaryQuery = z
  .object({
    days: whole(1, 365, 7),
    repository: filter,
    branch: filter,
    workflow: filter,
  })
  .strict();

/** The read-only JSON API under /api. */
export function createApiRoutes(deps: { pool: DatabasePool; now: () => Date; syncStaleAfterMs: number }): Hono {
  const app = new Hono();

  app.get("/builds", async (c) => {
    const q = parseQuery(c, buildsQuery);
    const { builds, total } = await listBuilds(
      deps.pool,
      {
        status: q.status,
        repository: q.repository,
        branch: q.branch,
        workflow: q.workflow,
        triggeredBy: q.triggered_by,
        installations: scopeOf(c),
      },
      { limit: q.limit, offset: q.offset },
    );
    return c.json({ builds, total, limit: q.limit, offset: q.offset });
  });

  app.get("/builds/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,15}$/.test(id)) {
      throw new HTTPException(404, { message: "build not found" });
    }
    const build = await getBuild(deps.pool, Number(id), scopeOf(c));
    if (!build) {
      throw new HTTPException(404, { message: "build not found" });
    }
    return c.json(build);
  });

  app.get("/metrics/summary", async (c) => {
    const q = parseQuery(c, summaryQuery);
    return c.json(await getMetricsSummary(deps.pool, { ...q, now: deps.now(), installations: scopeOf(c) }));
  });

  app.get("/sync", async (c) => {
    const now = deps.now();
    const [freshness, history] = await Promise.all([getFreshness(deps.pool, scopeOf(c)), getHistoryProgress(deps.pool, now, scopeOf(c))]);
    const importing = describeHistoryProgress(history, now);
    const installations = describeFreshness(freshness, now, deps.syncStaleAfterMs).map((f) => ({
      ...f,
      history: importing.find((h) => h.installation_id === f.installation_id) ?? null,
    }));
    return c.json({ installations, behind: installations.some((i) => i.behind), importing: importing.length > 0 });
  });

  return app;
}
