import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { Endpoints } from "@octokit/types";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type RestWorkflowRun } from "../domain/normalize.js";
import { isFinished, toStatus } from "../domain/status.js";
import type { Ingest } from "../ingest.js";
import type { Octokit } from "./github-clients.js";
import { findRunsWithoutJobs, findStuckRuns, markJobsChecked } from "../db/builds.js";
import { type SyncRepository, savePollState } from "../db/sync-repositories.js";

/** GitHub answers at most 1,000 runs for one query, whatever the paging. */
const RESULT_CAP = 1_000;
const PER_PAGE = 100;
/** A run older than this still unfinished is re-read on its own, not kept in the listing window. */
const WATCH_WINDOW_MS = 3 * 86_400_000;

export interface PollStats {
  installations: number;
  repositories: number;
  /** Requests GitHub counts against the rate limit (a 304 is not counted). */
  requests: number;
  /** Of those, requests for the jobs of a run. */
  jobRequests: number;
  notModified: number;
  runsSeen: number;
  runsChanged: number;
  jobsChanged: number;
  rateLimitRemaining: number | null;
  /** Set when another replica holds the lock and this pass did nothing. */
  skipped?: string;
}

export const emptyStats = (): PollStats => ({
  installations: 0, repositories: 0, requests: 0, jobRequests: 0, notModified: 0, runsSeen: 0, runsChanged: 0, jobsChanged: 0, rateLimitRemaining: null,
});

/** How one listing treats what it finds. */
export interface ListingOptions {
  /** Whether a listed run is history: stored silently (no alert, no check run). */
  isHistory: (run: { finished_at: Date | null }) => boolean;
  /** Checked before each request: true stops the listing (the budget ran low). */
  shouldStop?: () => boolean;
}

/** The listing stopped before its end because `shouldStop` said so; what it finished is saved. */
export class ListingStoppedError extends Error {
  override name = "ListingStoppedError";
}

export interface RunLister {
  /**
   * Every run created in [from, to], split into smaller windows while GitHub says there are
   * more than it would return for one query (so pages are full); `onWindowDone` after each
   * window is stored, so that an import can resume after it. Resolves with the runs listed.
   */
  importWindow(
    stats: PollStats,
    octokit: Octokit,
    repo: SyncRepository,
    window: { from: Date; to: Date },
    options: ListingOptions & { onWindowDone?: (to: Date, runs: number) => Promise<void> },
  ): Promise<RestWorkflowRun[]>;
  /** An incremental poll of one repository from its cursor, with ETag, stuck runs and lost jobs. */
  pollRepository(stats: PollStats, octokit: Octokit, repo: SyncRepository, options: ListingOptions & { now: Date; lookbackHours: number }): Promise<void>;
}

/**
 * Lists workflow runs of a repository through an installation's client and feeds them through
 * the same `normalize` and `ingest` as webhooks (stale results are refused there). At most
 * `concurrency` requests at once across repositories.
 */
export function createRunLister(deps: { pool: DatabasePool; ingest: Ingest; log: Logger; concurrency?: number }): RunLister {
  const concurrency = deps.concurrency ?? 3;
  let inFlight = 0;
  const waiting: Array<() => void> = [];

  async function limited<T>(fn: () => Promise<T>): Promise<T> {
    while (inFlight >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight += 1;
    try {
      return await fn();
    } finally {
      inFlight -= 1;
      waiting.shift()?.();
    }
  }

  /** One GitHub request; `null` data on 304. Rate limits are the client's (github-clients.ts). */
  async function call<Route extends keyof Endpoints>(
    stats: PollStats,
    octokit: Octokit,
    route: Route,
    params: Record<string, unknown>,
    options: ListingOptions,
  ): Promise<{ data: Endpoints[Route]["response"]["data"] | null; etag: string | null }> {
    try {
      // Asked when the request's turn comes, not when it queues: requests queued together (a
      // page's failed runs) would all pass on the budget of the same last answer.
      const response = await limited(() => {
        if (options.shouldStop?.()) throw new ListingStoppedError("stopped: the installation's budget ran low");
        return octokit.request(route as string, params);
      });
      stats.requests += 1;
      const remaining = Number(response.headers["x-ratelimit-remaining"]);
      if (Number.isFinite(remaining)) stats.rateLimitRemaining = remaining;
      return { data: response.data as Endpoints[Route]["response"]["data"], etag: (response.headers.etag as string | undefined) ?? null };
    } catch (error) {
      if ((error as { status?: number }).status === 304) {
        stats.notModified += 1;
        return { data: null, etag: null };
      }
      throw error;
    }
  }

  async function readJobs(stats: PollStats, octokit: Octokit, repo: SyncRepository, runId: number, attempt: number, options: ListingOptions) {
    const [owner, name] = repo.full_name.split("/");
    stats.jobRequests += 1;
    const { data } = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs", {
      owner, repo: name, run_id: runId, attempt_number: attempt, per_page: PER_PAGE,
    }, options);
    for (const job of data?.jobs ?? []) {
      const jobRecord = normalizeWorkflowJob(job, {
        repository: { id: repo.repository_id, full_name: repo.full_name },
        installation: { id: repo.installation_id },
      });
      if (!isUnusable(jobRecord) && (await deps.ingest({ kind: "job", record: jobRecord })).outcome === "changed") {
        stats.jobsChanged += 1;
      }
    }
  }

  async function ingestRun(stats: PollStats, octokit: Octokit, repo: SyncRepository, run: RestWorkflowRun, options: ListingOptions) {
    const record = normalizeWorkflowRun(run, {
      installation: { id: repo.installation_id },
      fallbackRepository: { id: repo.repository_id, full_name: repo.full_name, default_branch: repo.default_branch },
    });
    if (isUnusable(record)) return;
    stats.runsSeen += 1;
    const result = await deps.ingest({ kind: "run", record, history: options.isHistory({ finished_at: record.finishedAt }) });
    if (result.outcome !== "changed") return;
    stats.runsChanged += 1;
    // Failed runs: read their jobs too, for the failed job and step (webhooks may have missed them).
    if (record.status === "failed") await readJobs(stats, octokit, repo, record.externalId, record.runAttempt, options);
  }

  const lister: RunLister = {
    async importWindow(stats, octokit, repo, { from, to }, options) {
      const [owner, name] = repo.full_name.split("/");
      const created = `${from.toISOString()}..${to.toISOString()}`;
      const list = (page: number) =>
        call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs", { owner, repo: name, created, per_page: PER_PAGE, page, exclude_pull_requests: true }, options);
      const first = await list(1);
      if (!first.data) return [];
      const total = first.data.total_count;
      if (total > RESULT_CAP && to.getTime() - from.getTime() > 1000) {
        const middle = new Date(Math.floor((from.getTime() + to.getTime()) / 2));
        const older = await lister.importWindow(stats, octokit, repo, { from, to: middle }, options);
        const newer = await lister.importWindow(stats, octokit, repo, { from: new Date(middle.getTime() + 1), to }, options);
        return [...older, ...newer];
      }
      const runs: RestWorkflowRun[] = [...first.data.workflow_runs];
      for (let page = 2; runs.length < Math.min(total, RESULT_CAP) && (page - 1) * PER_PAGE < total; page++) {
        const next = await list(page);
        if (!next.data || next.data.workflow_runs.length === 0) break;
        runs.push(...next.data.workflow_runs);
      }
      // Oldest first, as webhooks would have told them: the alert policy ignores a run older than
      // the last one decided, so newest first (GitHub's order) would leave a branch's state with
      // only its latest failure (its streak's start and length lost).
      runs.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      // A page's runs go to ingest together: it writes them in a few batches, not one by one.
      await Promise.all(runs.map((run) => ingestRun(stats, octokit, repo, run, options)));
      await options.onWindowDone?.(to, runs.length);
      return runs;
    },

    async pollRepository(stats, octokit, repo, options) {
      const { now } = options;
      const since = repo.cursor ?? new Date(now.getTime() - options.lookbackHours * 3_600_000);
      const [owner, name] = repo.full_name.split("/");
      const created = `>=${since.toISOString()}`;
      const url = `runs?created=${created}`;
      const first = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs", {
        owner, repo: name, created, per_page: PER_PAGE, page: 1, exclude_pull_requests: true,
        headers: repo.etag && repo.etag_url === url ? { "if-none-match": repo.etag } : {},
      }, options);
      let runs: RestWorkflowRun[] = [];
      let etag: string | null = null;
      if (first.data === null) {
        // 304: nothing changed since the last poll, at no cost.
        etag = repo.etag;
      } else if (first.data.total_count <= PER_PAGE) {
        runs = first.data.workflow_runs;
        for (const run of runs) await ingestRun(stats, octokit, repo, run, options);
        // Only a one-page answer can stand for the whole query.
        etag = first.etag;
      } else {
        runs = await lister.importWindow(stats, octokit, repo, { from: since, to: now }, options);
      }

      // Runs stuck beyond their usual duration: their end may have been missed; read them again.
      for (const runId of await findStuckRuns(deps.pool, { repositoryId: repo.repository_id, now, minimumMinutes: 10, limit: 20 })) {
        const { data } = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs/{run_id}", { owner, repo: name, run_id: runId }, options);
        if (data) await ingestRun(stats, octokit, repo, data, options);
      }
      // Runs that finished without a single job stored: their workflow_job deliveries were lost.
      for (const run of await findRunsWithoutJobs(deps.pool, { repositoryId: repo.repository_id, now, limit: 20 })) {
        await readJobs(stats, octokit, repo, run.external_id, run.run_attempt, options);
        await markJobsChecked(deps.pool, run.id, now);
      }

      await savePollState(deps.pool, repo.repository_id, {
        cursor: nextCursor(runs, since, now),
        etag,
        etagUrl: etag ? url : null,
        polledAt: now,
        error: null,
      });
    },
  };
  return lister;
}

/**
 * Where the next poll starts: the creation time of the oldest listed run still unfinished
 * (so its end is seen), else of the newest listed run; never further back than the watch window.
 */
function nextCursor(runs: RestWorkflowRun[], since: Date, now: Date): Date {
  const floor = now.getTime() - WATCH_WINDOW_MS;
  const created = (run: RestWorkflowRun) => new Date(run.created_at).getTime();
  const open = runs.filter((run) => !isFinished(toStatus(run.status, run.conclusion)) && created(run) >= floor);
  if (open.length > 0) return new Date(Math.min(...open.map(created)));
  if (runs.length > 0) return new Date(Math.max(...runs.map(created)));
  return since;
}
