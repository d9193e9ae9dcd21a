import type { Context } from "hono";
import { Hono } from "hono";
import { html } from "hono/html";
import { HTTPException } from "hono/http-exception";
import type { Child } from "hono/jsx";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { AlertsPage } from "../../views/alerts-page.js";
import { BuildLive, BuildPage, type BuildPageData } from "../../views/build-page.js";
import { BuildsPage, BuildsResults, buildsSearch, type BuildsQuery, type BuildsResultsData } from "../../views/builds-page.js";
import { OverviewLive, OverviewPage, type OverviewData } from "../../views/overview-page.js";
import { DocsPage, type ApiDocument } from "../../views/docs-page.js";
import { DemoMode } from "../../views/layout.js";
import { WorkflowPage } from "../../views/workflow-page.js";
import { createOpenApiDocument } from "./openapi.js";
import { getAlertRules } from "../db/alert-settings.js";
import { listAlerts } from "../db/alerts.js";
import { getMetricsSummary } from "../db/build-metrics.js";
import { getBuildPayload, listJobsOfBuild } from "../db/build-jobs.js";
import { getDailyTrend } from "../db/build-trends.js";
import { getBuild, listBuilds, type Build, listRecentRepositories } from "../db/builds.js";
import { getBrokenBranches } from "../db/broken-branches.js";
import { getQueueTotal } from "../db/job-metrics.js";
import { getFailureInsights, listTopFailures } from "../db/failure-excerpts.js";
import { countFlakyRuns, getSlowestJobs, getWorkflowDays, getWorkflowPeriods, getWorkflowStats, workflowKey } from "../db/workflow-stats.js";
import { attentionPeriods, rankWorkflowAttention, withFlakyRate, withTrend } from "../domain/workflow-attention.js";
import { decodeBuildCursor, encodeBuildCursor } from "../domain/build-cursor.js";
import { describeHistoryProgress } from "../domain/history-progress.js";
import { restoreDerivedUrls } from "../domain/payload-urls.js";
import { describeFreshness } from "../domain/freshness.js";
import { STATUSES } from "../domain/status.js";
import { badParameter, cursorParameter, parseQuery } from "./parse-query.js";
import { scopeOf } from "./auth/access.js";
import type { InstallationScope } from "../db/values.js";
import { getFreshness, getHistoryProgress } from "../db/sync-repositories.js";

/** Pages count matching builds up to this many, so their cost does not grow with history. */
const PAGE_COUNT_LIMIT = 10_000;
/**
 * The overview's figures cover this many days; its "Needs attention" as many whole UTC days, today
 * included (attentionPeriods), beside as many before.
 */
const OVERVIEW_DAYS = 7;
/** The overview's "Needs attention" lists this many workflows at most. */
const ATTENTION_LIMIT = 8;
/** A CSV export holds at most this many rows. */
const CSV_LIMIT = 50_000;

const text = z.string().trim().max(255).optional().transform((v) => v || undefined);
const whole = (max: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? undefined : v))
    .pipe(z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().max(max)).optional());

/** A real calendar day: "2026-02-31" is not one. */
function isDay(value: string): boolean {
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

const buildsQuerySchema = z
  .object({
    repository: text,
    branch: text,
    workflow: text,
    actor: text,
    status: z
      .union([z.literal(""), z.enum(STATUSES)])
      .optional()
      .transform((v) => v || undefined),
    days: whole(3650),
    day: z
      .string()
      .optional()
      .transform((v) => v || undefined)
      .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day, YYYY-MM-DD").refine(isDay, "must be a day, YYYY-MM-DD").optional()),
    offset: whole(10_000_000),
    before: cursorParameter(decodeBuildCursor),
    limit: whole(200),
  })
  .strict();

export interface PageDeps {
  syncStaleAfterMs: number;
  pool: DatabasePool;
  baseUrl: string;
  now: () => Date;
  getProbot: () => Probot | null;
  /** Demo mode: every page says its data is made up. */
  demo?: boolean;
  /** PAYLOAD_RETENTION_DAYS (null or absent: kept for ever). */
  payloadRetentionDays?: number | null;
}

/** Renders a full page with the doctype, for the request's CSP nonce. */
function renderPage(c: Context, node: Child, status: 200 | 404 = 200) {
  return c.html(html`<!DOCTYPE html>${node}`, status);
}

function nonceOf(c: Context): string {
  return (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
}

/** htmx asks for fragments with the HX-Request header; the same URL loaded directly is a full page. */
function isHtmx(c: Context): boolean {
  return c.req.header("hx-request") === "true";
}

/** The HTML pages and the fragments htmx swaps into them. */
export function createPageRoutes(deps: PageDeps): Hono {
  const app = new Hono();
  // The layout shows the demo banner from this context, so no page passes the flag along.
  const page = (c: Context, node: Child, status?: 200 | 404) =>
    renderPage(c, <DemoMode.Provider value={deps.demo === true}>{node}</DemoMode.Provider>, status);

  const overview = async (installations: InstallationScope): Promise<OverviewData> => {
    const now = deps.now();
    const [summary, trend, broken, recent, freshness, history, queue, periods] = await Promise.all([
      getMetricsSummary(deps.pool, { days: OVERVIEW_DAYS, now, installations }),
      getDailyTrend(deps.pool, { days: 14, now, installations }),
      getBrokenBranches(deps.pool, { now, installations }),
      listBuilds(deps.pool, { installations }, { limit: 20, offset: 0, countLimit: 1 }),
      getFreshness(deps.pool, installations),
      getHistoryProgress(deps.pool, now, installations),
      getQueueTotal(deps.pool, { since: new Date(now.getTime() - OVERVIEW_DAYS * 86_400_000), until: now, now, installations }),
      getWorkflowPeriods(deps.pool, { days: OVERVIEW_DAYS, now, installations }),
    ]);
    const shown = rankWorkflowAttention(periods).slice(0, ATTENTION_LIMIT);
    const [flaky, days] = await Promise.all([
      countFlakyRuns(deps.pool, { workflows: shown, since: attentionPeriods(OVERVIEW_DAYS, now).currentFrom, now, installations }),
      getWorkflowDays(deps.pool, { workflows: shown, days: OVERVIEW_DAYS, now, installations }),
    ]);
    const calendar = { days: OVERVIEW_DAYS, today: now.toISOString().slice(0, 10) };
    return {
      queue,
      summary,
      trend,
      broken,
      recent: recent.builds,
      now,
      freshness: describeFreshness(freshness, now, deps.syncStaleAfterMs),
      history: describeHistoryProgress(history, now),
      attention: shown.map((w) => withTrend(withFlakyRate(w, flaky.get(workflowKey(w)) ?? 0), days.get(workflowKey(w)) ?? [], calendar)),
    };
  };

  app.get("/", async (c) =>
    page(c, <OverviewPage nonce={nonceOf(c)} githubConfigured={deps.getProbot() !== null} data={await overview(scopeOf(c))} />),
  );
  app.get("/fragments/overview", async (c) => c.html(<OverviewLive data={await overview(scopeOf(c))} />));

  /** The listBuilds filters of a /builds or /builds.csv query. */
  const filtersOf = (q: z.infer<typeof buildsQuerySchema>, installations: InstallationScope) => ({
    installations,
    repository: q.repository,
    branch: q.branch,
    workflow: q.workflow,
    status: q.status,
    triggeredBy: q.actor,
    ...timeWindow(q),
  });

  /** The time window of a query: one UTC day (`day`), else the last `days` days. */
  const timeWindow = (q: z.infer<typeof buildsQuerySchema>): { since?: Date; until?: Date } => {
    if (q.day) {
      const start = new Date(`${q.day}T00:00:00Z`);
      return { since: start, until: new Date(start.getTime() + 86_400_000) };
    }
    return q.days ? { since: new Date(deps.now().getTime() - q.days * 86_400_000) } : {};
  };

  const buildsResults = async (c: Context): Promise<BuildsResultsData> => {
    const q = parseQuery(c, buildsQuerySchema);
    if (q.before && q.offset) throw badParameter("offset", "cannot be given with before");
    const query: BuildsQuery = { ...q, offset: q.offset ?? 0, before: q.before && encodeBuildCursor(q.before), limit: q.limit || 50 };
    const { builds, total, next } = await listBuilds(deps.pool, filtersOf(q, scopeOf(c)), {
      limit: query.limit,
      offset: query.offset,
      before: q.before,
      countLimit: PAGE_COUNT_LIMIT,
    });
    return { query, builds, total, countLimit: PAGE_COUNT_LIMIT, next: next && encodeBuildCursor(next) };
  };

  app.get("/builds", async (c) => {
    const data = await buildsResults(c);
    if (isHtmx(c)) {
      // The address bar gets the tidy form of the view (empty filters dropped), ready to share.
      c.header("hx-push-url", `/builds${buildsSearch(data.query)}`);
      return c.html(<BuildsResults data={data} />);
    }
    const repositories = await listRecentRepositories(deps.pool, deps.now(), scopeOf(c));
    return page(c, <BuildsPage nonce={nonceOf(c)} data={data} options={{ repositories }} />);
  });

  app.get("/builds.csv", async (c) => {
    const q = parseQuery(c, buildsQuerySchema);
    const { builds } = await listBuilds(deps.pool, filtersOf(q, scopeOf(c)), { limit: CSV_LIMIT, offset: 0, countLimit: 1 });
    c.header("content-type", "text/csv; charset=utf-8");
    c.header("content-disposition", 'attachment; filename="builds.csv"');
    return c.body(toCsv(builds));
  });

  const buildPage = async (c: Context): Promise<BuildPageData> => {
    const id = c.req.param("id") ?? "";
    const build = /^\d{1,15}$/.test(id) ? await getBuild(deps.pool, Number(id), scopeOf(c)) : null;
    if (!build) throw new HTTPException(404, { message: "build not found" });
    const requested = Number(c.req.query("attempt"));
    const jobs = await listJobsOfBuild(deps.pool, build.id);
    const attempt = Number.isInteger(requested) && requested > 0 ? requested : build.run_attempt;
    return { build, jobs, attempt, insights: await getFailureInsights(deps.pool, build.id), now: deps.now() };
  };

  app.get("/builds/:id{[0-9]+}", async (c) => {
    const data = await buildPage(c);
    if (isHtmx(c)) return c.html(<BuildLive data={data} />);
    return page(c, <BuildPage nonce={nonceOf(c)} data={data} />);
  });

  app.get("/builds/:id{[0-9]+}/payload", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,15}$/.test(id) || !(await getBuild(deps.pool, Number(id), scopeOf(c)))) {
      throw new HTTPException(404, { message: "build not found" });
    }
    const { payload, placeholder } = (await getBuildPayload(deps.pool, Number(id))) ?? { payload: null, placeholder: true };
    if (payload !== null) return c.html(<pre>{JSON.stringify(restoreDerivedUrls(payload), null, 2)}</pre>);
    if (placeholder) return c.html(<p class="muted">No payload: this run is known only from its jobs so far.</p>);
    const days = deps.payloadRetentionDays;
    return c.html(
      <p class="muted">
        The payload is no longer kept: Runboard keeps what GitHub sent {days ? `for ${days} days` : "for a limited time"}{" "}
        (<code>PAYLOAD_RETENTION_DAYS</code>). Everything above was read from it and stays.
      </p>,
    );
  });

  app.get("/workflows", async (c) => {
    const q = parseQuery(
      c,
      z.object({ repository: z.string().trim().min(1).max(255), workflow: z.string().trim().min(1).max(255), days: whole(365) }).strict(),
    );
    const now = deps.now();
    const days = q.days || 30;
    const installations = scopeOf(c);
    const filter = { repository: q.repository, workflow: q.workflow, days, now, installations };
    const [stats, trend, slowest, recent, queue, failures] = await Promise.all([
      getWorkflowStats(deps.pool, filter),
      getDailyTrend(deps.pool, { ...filter }),
      getSlowestJobs(deps.pool, filter),
      listBuilds(deps.pool, { repository: q.repository, workflow: q.workflow, installations }, { limit: 20, offset: 0, countLimit: 1 }),
      getQueueTotal(deps.pool, { ...filter, since: new Date(now.getTime() - days * 86_400_000), until: now }),
      listTopFailures(deps.pool, { repository: q.repository, workflow: q.workflow, since: new Date(now.getTime() - days * 86_400_000), limit: 5, installations }),
    ]);
    return page(
      c,
      <WorkflowPage
        nonce={nonceOf(c)}
        data={{ repository: q.repository, workflow: q.workflow, days, stats, trend, slowest, recent: recent.builds, queue, failures }}
      />,
    );
  });

  const openApi = createOpenApiDocument(deps.baseUrl);
  app.get("/openapi.json", (c) => c.json(openApi));
  app.get("/docs", (c) => page(c, <DocsPage nonce={nonceOf(c)} doc={openApi as unknown as ApiDocument} />));

  app.get("/alerts", async (c) => {
    const [history, rules] = await Promise.all([listAlerts(deps.pool, { limit: 100, offset: 0, installations: scopeOf(c) }), getAlertRules(deps.pool)]);
    return page(c, <AlertsPage nonce={nonceOf(c)} alerts={history.alerts} total={history.total} rules={rules} />);
  });

  return app;
}

const CSV_COLUMNS: Array<keyof Build> = [
  "id", "repository", "workflow", "status", "conclusion", "branch", "commit_sha", "commit_message",
  "triggered_by", "event", "run_attempt", "created_at", "started_at", "finished_at", "duration_seconds", "url",
];

/**
 * RFC 4180 CSV. Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR at the
 * start) get a leading apostrophe, since commit messages and branch names come from anyone.
 */
export function toCsv(builds: Build[]): string {
  const cell = (value: unknown): string => {
    let s = value instanceof Date ? value.toISOString() : value == null ? "" : String(value);
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CSV_COLUMNS.join(",")];
  for (const build of builds) lines.push(CSV_COLUMNS.map((column) => cell(build[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
