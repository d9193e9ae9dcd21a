import cron, { type ScheduledTask } from "node-cron";
import pg from "pg";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { DatabasePool } from "slonik";
import {
  findStuckRuns,
  markInstallationSynced,
  saveBackfillProgress,
  savePollState,
  upsertInstallation,
  upsertSyncRepository,
  type SyncRepository,
} from "../db/sync-state.js";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun } from "../domain/normalize.js";
import { isFinished, toStatus } from "../domain/status.js";
import type { Ingest } from "../ingest.js";
import { pruneSyncRepositories } from "../db/installations.js";
import type { Gauge } from "../metrics/registry.js";

/** One advisory lock key: the replica holding it is the one that polls. */
const POLLER_LOCK_KEY = 7_262_002;
/** GitHub answers at most 1,000 runs for one query, whatever the paging. */
const RESULT_CAP = 1_000;
const PER_PAGE = 100;
/** A run older than this still unfinished is re-read on its own, not kept in the listing window. */
const WATCH_WINDOW_MS = 3 * 86_400_000;

type Octokit = Awaited<ReturnType<Probot["auth"]>>;

export interface PollStats {
  installations: number;
  repositories: number;
  /** Requests GitHub counts against the rate limit (a 304 is not counted). */
  requests: number;
  notModified: number;
  runsSeen: number;
  runsChanged: number;
  jobsChanged: number;
  rateLimitRemaining: number | null;
  /** Set when another replica holds the poller lock and this pass did nothing. */
  skipped?: "another replica is polling";
}

export interface PollOptions {
  /** Backfill: import every run created since this time, resuming where an earlier backfill stopped. */
  since?: Date;
  /** Only this repository (owner/name). */
  repository?: string;
  onProgress?: (stats: PollStats, repository: string) => void;
}

export interface Poller {
  start(): void;
  stop(): Promise<void>;
  /** One pass over every installation and repository (or a backfill, with `since`). */
  pollOnce(options?: PollOptions): Promise<PollStats>;
}

interface HttpError {
  status?: number;
  response?: { headers?: Record<string, string | undefined> };
}

/**
 * The poller: finds every run the webhooks missed. With the app's installation tokens it walks
 * every installation and repository, lists the runs created since each repository's cursor, and
 * feeds them through the same `normalize` and `ingest` as webhooks (stale results are refused
 * there). Polite: 100 per page, `If-None-Match` so an idle repository costs a free 304, query
 * windows split below GitHub's 1,000-result cap, at most `concurrency` requests at once,
 * `Retry-After` and the rate-limit reset honoured. One replica polls at a time (advisory lock);
 * cursors live in Postgres, so a restart resumes.
 */
export function createPoller(deps: {
  pool: DatabasePool;
  connectionUri: string;
  getProbot: () => Probot | null;
  ingest: Ingest;
  log: Logger;
  now: () => Date;
  intervalSeconds: number;
  jitterSeconds: number;
  /** How far back a repository's first poll looks. */
  lookbackHours?: number;
  concurrency?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Set to the remaining request budget GitHub reports on each answer. */
  rateLimitRemaining?: Gauge;
}): Poller {
  const log = deps.log.child({ worker: "poller" });
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const concurrency = deps.concurrency ?? 3;
  let inFlight = 0;
  const waiting: Array<() => void> = [];

  /** At most `concurrency` requests at once, across repositories. */
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

  /** A GitHub request with rate limits honoured; `null` data on 304. */
  async function call(
    stats: PollStats,
    octokit: Octokit,
    route: string,
    params: Record<string, unknown>,
  ): Promise<{ data: any; etag: string | null }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await limited(() => octokit.request(route, params));
        stats.requests += 1;
        const remaining = Number(response.headers["x-ratelimit-remaining"]);
        if (Number.isFinite(remaining)) {
          stats.rateLimitRemaining = remaining;
          deps.rateLimitRemaining?.set(remaining);
        }
        if (remaining === 0) await waitForReset(response.headers["x-ratelimit-reset"]);
        return { data: response.data, etag: (response.headers.etag as string | undefined) ?? null };
      } catch (error) {
        const status = (error as HttpError).status;
        const headers = (error as HttpError).response?.headers ?? {};
        if (status === 304) {
          stats.notModified += 1;
          return { data: null, etag: null };
        }
        const rateLimited = (status === 403 || status === 429) && (headers["retry-after"] || headers["x-ratelimit-remaining"] === "0");
        if (!rateLimited || attempt >= 5) throw error;
        stats.requests += 1;
        if (headers["retry-after"]) {
          const seconds = Math.max(1, Number(headers["retry-after"]) || 60);
          log.warn({ route, seconds }, "GitHub asked to slow down (secondary rate limit); waiting as it says");
          await sleep(seconds * 1000);
        } else {
          await waitForReset(headers["x-ratelimit-reset"]);
        }
      }
    }
  }

  async function waitForReset(reset: string | number | undefined) {
    const resetMs = Number(reset) * 1000;
    const wait = Number.isFinite(resetMs) ? Math.min(Math.max(0, resetMs - Date.now()) + 1000, 3_600_000) : 60_000;
    log.warn({ waitSeconds: Math.round(wait / 1000) }, "GitHub rate limit used up; waiting for its reset");
    await sleep(wait);
  }

  async function ingestRun(stats: PollStats, octokit: Octokit, repo: SyncRepository, run: any) {
    const record = normalizeWorkflowRun(run, {
      installation: { id: repo.installation_id },
      fallbackRepository: { id: repo.repository_id, full_name: repo.full_name, default_branch: repo.default_branch },
    });
    if (isUnusable(record)) return;
    stats.runsSeen += 1;
    const result = await deps.ingest({ kind: "run", record });
    if (result.outcome !== "changed") return;
    stats.runsChanged += 1;
    // Failed runs: read their jobs too, for the failed job and step (webhooks may have missed them).
    if (record.status === "failed") {
      const [owner, name] = repo.full_name.split("/");
      const { data } = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs", {
        owner,
        repo: name,
        run_id: record.externalId,
        attempt_number: record.runAttempt,
        per_page: PER_PAGE,
      });
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
  }

  /**
   * Every run created in [from, to], split into smaller windows while GitHub says there are
   * more than it would return for one query.
   */
  async function importWindow(
    stats: PollStats,
    octokit: Octokit,
    repo: SyncRepository,
    from: Date,
    to: Date,
    onWindowDone?: (to: Date) => Promise<void>,
  ): Promise<any[]> {
    const [owner, name] = repo.full_name.split("/");
    const created = `${from.toISOString()}..${to.toISOString()}`;
    const first = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs", {
      owner, repo: name, created, per_page: PER_PAGE, page: 1, exclude_pull_requests: true,
    });
    const total: number = first.data.total_count;
    if (total > RESULT_CAP && to.getTime() - from.getTime() > 1000) {
      const middle = new Date(Math.floor((from.getTime() + to.getTime()) / 2));
      const older = await importWindow(stats, octokit, repo, from, middle, onWindowDone);
      const newer = await importWindow(stats, octokit, repo, new Date(middle.getTime() + 1), to, onWindowDone);
      return [...older, ...newer];
    }
    const runs: any[] = [...first.data.workflow_runs];
    for (let page = 2; runs.length < Math.min(total, RESULT_CAP) && (page - 1) * PER_PAGE < total; page++) {
      const next = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs", {
        owner, repo: name, created, per_page: PER_PAGE, page, exclude_pull_requests: true,
      });
      if (next.data.workflow_runs.length === 0) break;
      runs.push(...next.data.workflow_runs);
    }
    for (const run of runs) await ingestRun(stats, octokit, repo, run);
    await onWindowDone?.(to);
    return runs;
  }

  /** An incremental poll of one repository from its cursor. */
  async function pollRepository(stats: PollStats, octokit: Octokit, repo: SyncRepository) {
    const now = deps.now();
    const since = repo.cursor ?? new Date(now.getTime() - (deps.lookbackHours ?? 24) * 3_600_000);
    const [owner, name] = repo.full_name.split("/");
    const created = `>=${since.toISOString()}`;
    const url = `runs?created=${created}`;
    const first = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs", {
      owner, repo: name, created, per_page: PER_PAGE, page: 1, exclude_pull_requests: true,
      headers: repo.etag && repo.etag_url === url ? { "if-none-match": repo.etag } : {},
    });
    let runs: any[] = [];
    let etag: string | null = null;
    if (first.data === null) {
      // 304: nothing changed since the last poll, at no cost.
      etag = repo.etag;
    } else if (first.data.total_count <= PER_PAGE) {
      runs = first.data.workflow_runs;
      for (const run of runs) await ingestRun(stats, octokit, repo, run);
      // Only a one-page answer can stand for the whole query.
      etag = first.etag;
    } else {
      runs = await importWindow(stats, octokit, repo, since, now);
    }

    // Runs stuck beyond their usual duration: their end may have been missed; read them again.
    for (const runId of await findStuckRuns(deps.pool, { repositoryId: repo.repository_id, now, minimumMinutes: 10, limit: 20 })) {
      const { data } = await call(stats, octokit, "GET /repos/{owner}/{repo}/actions/runs/{run_id}", { owner, repo: name, run_id: runId });
      if (data) await ingestRun(stats, octokit, repo, data);
    }

    await savePollState(deps.pool, repo.repository_id, {
      cursor: nextCursor(runs, since, now),
      etag,
      etagUrl: etag ? url : null,
      polledAt: now,
      error: null,
    });
  }

  /**
   * A backfill of one repository from `since`: the whole range as one query, split only where
   * it holds more than GitHub answers at once (so pages are full); each finished window is
   * saved, and a backfill started again from the same point resumes after it.
   */
  async function backfillRepository(stats: PollStats, octokit: Octokit, repo: SyncRepository, since: Date, options: PollOptions) {
    const now = deps.now();
    const resumed =
      repo.backfilled_from && repo.backfilled_to && repo.backfilled_from.getTime() <= since.getTime() ? repo.backfilled_to : null;
    const from = resumed ? new Date(resumed.getTime() + 1) : since;
    if (from >= now) return;
    await importWindow(stats, octokit, repo, from, now, async (to) => {
      await saveBackfillProgress(deps.pool, repo.repository_id, since, to);
      options.onProgress?.(stats, repo.full_name);
    });
  }

  async function pass(options: PollOptions): Promise<PollStats> {
    const stats: PollStats = {
      installations: 0, repositories: 0, requests: 0, notModified: 0, runsSeen: 0, runsChanged: 0, jobsChanged: 0, rateLimitRemaining: null,
    };
    const probot = deps.getProbot();
    if (!probot) return stats;
    const app = await probot.auth();
    const installations: any[] = [];
    for (let page = 1; ; page++) {
      const { data } = await call(stats, app, "GET /app/installations", { per_page: PER_PAGE, page });
      installations.push(...data);
      if (data.length < PER_PAGE) break;
    }
    for (const installation of installations) {
      const suspendedAt = installation.suspended_at ? new Date(installation.suspended_at) : null;
      const active = await upsertInstallation(deps.pool, installation.id, installation.account?.login ?? String(installation.id), suspendedAt);
      // Suspended: its tokens are refused until it is unsuspended. Deleted: gone for good.
      if (!active) continue;
      stats.installations += 1;
      let error: string | null = null;
      try {
        const octokit = await probot.auth(installation.id);
        const repos: any[] = [];
        for (let page = 1; ; page++) {
          const { data } = await call(stats, octokit, "GET /installation/repositories", { per_page: PER_PAGE, page });
          repos.push(...data.repositories);
          if (data.repositories.length < PER_PAGE) break;
        }
        if (!options.repository) await pruneSyncRepositories(deps.pool, installation.id, repos.map((r) => r.id));
        const chosen = repos.filter((r) => !options.repository || r.full_name === options.repository);
        await Promise.all(
          chosen.map(async (r) => {
            const repo = await upsertSyncRepository(deps.pool, {
              id: r.id, installationId: installation.id, fullName: r.full_name, defaultBranch: r.default_branch ?? null,
            });
            try {
              if (options.since) await backfillRepository(stats, octokit, repo, options.since, options);
              else await pollRepository(stats, octokit, repo);
            } catch (repoError) {
              const message = (repoError as Error).message;
              await savePollState(deps.pool, repo.repository_id, { cursor: null, etag: repo.etag, etagUrl: repo.etag_url, polledAt: deps.now(), error: message });
              log.warn({ repository: repo.full_name, err: message }, "repository not polled; the next poll tries again");
            }
            stats.repositories += 1;
            options.onProgress?.(stats, repo.full_name);
          }),
        );
      } catch (installationError) {
        error = (installationError as Error).message;
        log.warn({ installationId: installation.id, err: error }, "installation not polled; the next poll tries again");
      }
      await markInstallationSynced(deps.pool, installation.id, deps.now(), error);
    }
    log.info(stats, "poll finished");
    return stats;
  }

  async function pollOnce(options: PollOptions = {}): Promise<PollStats> {
    if (!deps.getProbot()) {
      // No GitHub App yet: nothing to poll, not even a lock to take.
      return pass(options);
    }
    // The lock lives on its own connection, held for the whole pass.
    const lock = new pg.Client({ connectionString: deps.connectionUri });
    await lock.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [POLLER_LOCK_KEY]);
      if (!rows[0]?.locked) {
        return {
          installations: 0, repositories: 0, requests: 0, notModified: 0, runsSeen: 0, runsChanged: 0, jobsChanged: 0,
          rateLimitRemaining: null, skipped: "another replica is polling",
        };
      }
      return await pass(options);
    } finally {
      await lock.end();
    }
  }

  let task: ScheduledTask | undefined;
  let running: Promise<unknown> | undefined;
  let nextAt = 0;
  return {
    pollOnce,
    start() {
      if (deps.intervalSeconds <= 0) return;
      // node-cron ticks every second; each tick checks whether the interval (plus this cycle's
      // jitter) has passed, so any interval of 1 s or more works, not only divisors of a minute.
      nextAt = Date.now() + (deps.random ?? Math.random)() * deps.jitterSeconds * 1000;
      task = cron.schedule("* * * * * *", () => {
        if (running || Date.now() < nextAt) return;
        nextAt = Date.now() + (deps.intervalSeconds + (deps.random ?? Math.random)() * deps.jitterSeconds) * 1000;
        running = pollOnce()
          .catch((error: unknown) => log.error({ err: error }, "poll failed; the next one tries again"))
          .finally(() => (running = undefined));
      });
    },
    async stop() {
      await task?.destroy();
      await running;
    },
  };
}

/**
 * Where the next poll starts: the creation time of the oldest listed run still unfinished
 * (so its end is seen), else of the newest listed run; never further back than the watch window.
 */
function nextCursor(runs: any[], since: Date, now: Date): Date {
  const floor = now.getTime() - WATCH_WINDOW_MS;
  const created = (run: any) => new Date(run.created_at).getTime();
  const open = runs.filter((run) => !isFinished(toStatus(run.status, run.conclusion)) && created(run) >= floor);
  if (open.length > 0) return new Date(Math.min(...open.map(created)));
  if (runs.length > 0) return new Date(Math.max(...runs.map(created)));
  return since;
}
