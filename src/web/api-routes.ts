import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { getMetricsSummary } from "../db/build-metrics.js";
import { buildJobSchema, buildSchema, getBuild, listBuilds } from "../db/builds.js";
import { listTopFailures, topFailureSchema } from "../db/failure-excerpts.js";
import { decodeBuildCursor, encodeBuildCursor } from "../domain/build-cursor.js";
import { describeHistoryProgress } from "../domain/history-progress.js";
import { describeFreshness } from "../domain/freshness.js";
import { STATUSES } from "../domain/status.js";
import { badParameter, cursorParameter, parseQuery, wholeNumber } from "./parse-query.js";
import { scopeOf } from "./auth/access.js";
import { getFreshness, getHistoryProgress } from "../db/sync-repositories.js";

const filter = z.string().trim().max(255).optional().transform((value) => value || undefined);
export const buildsQuery = z
  .object({
    limit: wholeNumber(1, 500, 50),
    offset: wholeNumber(0, 10_000_000, 0),
    before: cursorParameter(decodeBuildCursor),
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
    days: wholeNumber(1, 365, 7),
    repository: filter,
    branch: filter,
    workflow: filter,
  })
  .strict();

export const failuresQuery = z
  .object({
    days: wholeNumber(1, 90, 7),
    limit: wholeNumber(1, 100, 20),
    repository: filter,
    workflow: filter,
  })
  .strict();

/** GET /api/failures's answer. */
export const failuresAnswerSchema = z.object({ window_days: z.number().int(), failures: z.array(topFailureSchema) });

/** GET /api/builds's answer. */
export const buildsAnswerSchema = z.object({
  builds: z.array(buildSchema),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  next_before: z.string().nullable().describe("The `before` of the next (older) page; null on the last page"),
});

/** GET /api/builds/{id}'s answer: the build, its provider, the jobs of its current attempt. */
export const buildDetailSchema = buildSchema.extend({ provider_name: z.string(), jobs: z.array(buildJobSchema) });

const historyProgressSchema = z.object({
  installation_id: z.number().int(),
  account: z.string(),
  repositories: z.number().int(),
  repositories_done: z.number().int(),
  runs: z.number().int(),
  seconds_left: z.number().nullable().describe("A rough estimate from the pace so far; null until there is a pace to go by"),
  paused_until: z.date().nullable(),
  text: z.string(),
});

/** GET /api/sync's answer: how current each installation's data is, and the history import. */
export const syncAnswerSchema = z.object({
  installations: z.array(
    z.object({
      installation_id: z.number().int(),
      account: z.string(),
      last_synced_at: z.date().nullable(),
      repositories: z.number().int(),
      behind: z.boolean(),
      reason: z.string().nullable(),
      history: historyProgressSchema.nullable(),
    }),
  ),
  behind: z.boolean().describe("Whether any installation is behind"),
  importing: z.boolean().describe("Whether some history is still being imported"),
});

/** The read-only JSON API under /api. */
export function createApiRoutes(deps: { pool: DatabasePool; now: () => Date; syncStaleAfterMs: number }): Hono {
  const app = new Hono();

  app.get("/builds", async (c) => {
    const q = parseQuery(c, buildsQuery);
    if (q.before && q.offset) throw badParameter("offset", "cannot be given with before");
    const { builds, total, next } = await listBuilds(
      deps.pool,
      {
        status: q.status,
        repository: q.repository,
        branch: q.branch,
        workflow: q.workflow,
        triggeredBy: q.triggered_by,
        installations: scopeOf(c),
      },
      { limit: q.limit, offset: q.offset, before: q.before },
    );
    const answer: z.infer<typeof buildsAnswerSchema> = {
      builds,
      total,
      limit: q.limit,
      offset: q.offset,
      next_before: next && encodeBuildCursor(next),
    };
    return c.json(answer);
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

  app.get("/failures", async (c) => {
    const q = parseQuery(c, failuresQuery);
    const since = new Date(deps.now().getTime() - q.days * 86_400_000);
    const failures = await listTopFailures(deps.pool, { since, repository: q.repository, workflow: q.workflow, limit: q.limit, installations: scopeOf(c) });
    const answer: z.infer<typeof failuresAnswerSchema> = { window_days: q.days, failures };
    return c.json(answer);
  });

  app.get("/sync", async (c) => {
    const now = deps.now();
    const [freshness, history] = await Promise.all([getFreshness(deps.pool, scopeOf(c)), getHistoryProgress(deps.pool, now, scopeOf(c))]);
    const importing = describeHistoryProgress(history, now);
    const installations = describeFreshness(freshness, now, deps.syncStaleAfterMs).map((f) => ({
      ...f,
      history: importing.find((h) => h.installation_id === f.installation_id) ?? null,
    }));
    const answer: z.infer<typeof syncAnswerSchema> = { installations, behind: installations.some((i) => i.behind), importing: importing.length > 0 };
    return c.json(answer);
  });

  return app;
}
