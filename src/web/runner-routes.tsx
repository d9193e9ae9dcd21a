import { Hono } from "hono";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { DemoMode } from "../../views/layout.js";
import { RunnersPage } from "../../views/runners-page.js";
import { listRecentRepositories } from "../db/builds.js";
import type { RunnerMultiplier } from "../domain/runner-minutes.js";
import { scopeOf } from "./auth/access.js";
import { parseQuery } from "./parse-query.js";
import { cspNonce, renderPage } from "./render-page.js";
import { loadQueueReport, loadUsageReport } from "./runner-insights.js";

const runnersQuery = z
  .object({
    repository: z.string().trim().max(255).optional().transform((v) => v || undefined),
    days: z
      .string()
      .optional()
      .transform((v) => (v === undefined || v === "" ? undefined : v))
      .pipe(z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().min(1).max(365)).optional()),
  })
  .strict();

/** The Runners page: queue time, jobs waiting now, waiting by hour of day, estimated minutes. */
export function createRunnerRoutes(deps: { pool: DatabasePool; now: () => Date; demo?: boolean; runnerMultipliers: readonly RunnerMultiplier[] }): Hono {
  const app = new Hono();

  app.get("/runners", async (c) => {
    const q = parseQuery(c, runnersQuery);
    const now = deps.now();
    const days = q.days ?? 7;
    const installations = scopeOf(c);
    const [queue, usage, repositories] = await Promise.all([
      loadQueueReport(deps.pool, { days, now, repository: q.repository, installations }),
      loadUsageReport(deps.pool, { days, now, repository: q.repository, installations, multipliers: deps.runnerMultipliers }),
      listRecentRepositories(deps.pool, now, installations),
    ]);
    return renderPage(
      c,
      <DemoMode.Provider value={deps.demo === true}>
        <RunnersPage nonce={cspNonce(c)} data={{ days, repository: q.repository, repositories, queue, usage }} />
      </DemoMode.Provider>,
    );
  });

  return app;
}
