import type { Logger } from "pino";
import type { Probot } from "probot";
import type { CommonQueryMethods, DatabasePool } from "slonik";
import {
  claimDueCheckRun,
  clearMissingPermission,
  markCheckRunDone,
  markCheckRunFailed,
  postponeCheckRun,
  recordMissingPermission,
  type DueCheckRun,
} from "../db/check-runs.js";
import { getCommitHealth } from "../db/commit-health.js";
import { createRepeatingWorker, nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { checkRunConclusion, type ConclusionMode } from "./check-run-conclusion.js";
import { renderCheckRunSummary } from "./check-run-summary.js";

export const CHECK_RUN_NAME = "Runboard";

/**
 * How long an installation without `checks: write` is left alone before trying again (sooner
 * when `resumeCheckRuns` hears that new permissions were accepted).
 */
const PERMISSION_RETRY_MS = 60 * 60_000;

/** GitHub asks to wait at least a minute after a secondary rate limit without Retry-After. */
const RATE_LIMIT_WAIT_MS = 60_000;

export type CheckRunPublisher = RepeatingWorker;

type Octokit = Awaited<ReturnType<Probot["auth"]>>;

/** The parts of Octokit's RequestError this worker reads; anything else thrown has none. */
interface HttpError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

const isMissingPermission = (error: HttpError) =>
  error.status === 403 && /not accessible by integration/i.test(error.message ?? "");

/** Until when GitHub asked us to stop (Retry-After, or an exhausted quota's reset), if it did. */
function rateLimitedUntil(error: HttpError, now: Date): Date | null {
  if (error.status !== 403 && error.status !== 429) return null;
  const headers = error.response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (retryAfter > 0) return new Date(now.getTime() + retryAfter * 1000);
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    return new Date(Math.max(reset || 0, now.getTime() + RATE_LIMIT_WAIT_MS));
  }
  if (error.status === 429 || /secondary rate limit/i.test(error.message ?? "")) return new Date(now.getTime() + RATE_LIMIT_WAIT_MS);
  return null;
}

/**
 * Writes the "Runboard" check run of each commit whose runs finished: the remembered id is
 * updated; without one (or when it is gone) the run is found by name on the ref and updated,
 * else created. Rows are handled inside the transaction that locked them (`FOR UPDATE SKIP
 * LOCKED`), so replicas never write one twice. A create is never retried in place (Octokit's
 * retry plugin would repeat a POST that may have succeeded): the row's next try looks on the
 * ref first and finds what an ambiguous failure made. A 5xx or a network error is retried
 * with backoff; a rate limit waits as long as GitHub says, for the whole installation. Writes
 * are spaced at least `minIntervalMs` apart, as GitHub asks of content-creating requests.
 * An installation without `checks: write` is logged once and left alone for an hour at a
 * time; its rows wait, and nothing else is affected. With no GitHub App configured
 * (`getProbot()` is null) rows stay pending.
 * @param conclusion `neutral` (default): information, never a merge blocker; `auto`: failure
 *   when a workflow failed, success when all passed.
 */
export function createCheckRunPublisher(deps: {
  pool: DatabasePool;
  getProbot: () => Probot | null;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  conclusion?: ConclusionMode;
  minIntervalMs?: number;
  intervalMs?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}): CheckRunPublisher {
  const retry = deps.retry ?? { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };
  const conclusionMode = deps.conclusion ?? "neutral";
  const minIntervalMs = deps.minIntervalMs ?? 1_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = deps.log.child({ worker: "check-runs" });
  // Spacing is measured on the process's own clock: `now` may be frozen or shifted in tests
  // and schedules, but the gap between two requests is real time.
  let lastWriteAt = 0;
  // Rate limits are the installation's, not the row's: its other rows wait too.
  const pausedUntil = new Map<number, Date>();

  async function spaced<T>(write: () => Promise<T>): Promise<T> {
    const wait = lastWriteAt + minIntervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      return await write();
    } finally {
      lastWriteAt = Date.now();
    }
  }

  /** The check run's content, from the database (outside the GitHub calls, whose errors are caught). */
  async function content(tx: CommonQueryMethods, row: DueCheckRun) {
    const health = await getCommitHealth(tx, { repositoryId: row.repository_id, headSha: row.head_sha, defaultBranch: row.default_branch });
    const { title, summary } = renderCheckRunSummary(health, {
      repository: row.repository,
      headSha: row.head_sha,
      defaultBranch: row.default_branch,
      dashboardUrl: deps.baseUrl,
    });
    return {
      name: CHECK_RUN_NAME,
      status: "completed" as const,
      conclusion: checkRunConclusion(health, conclusionMode),
      details_url: `${deps.baseUrl}/builds?repository=${encodeURIComponent(row.repository)}`,
      output: { title, summary },
    };
  }

  /** Updates or creates the commit's check run; resolves with its id. */
  async function publish(octokit: Octokit, row: DueCheckRun, checkRun: Awaited<ReturnType<typeof content>>): Promise<number> {
    const [owner, repo] = row.repository.split("/") as [string, string];
    const body = { owner, repo, ...checkRun };

    /** false when the run is gone (deleted with its suite). */
    async function update(id: number): Promise<boolean> {
      try {
        await spaced(() => octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...body, check_run_id: id }));
        return true;
      } catch (error) {
        if ((error as HttpError).status === 404) return false;
        throw error;
      }
    }

    async function find(): Promise<number | null> {
      const found = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
        owner,
        repo,
        ref: row.head_sha,
        check_name: CHECK_RUN_NAME,
        filter: "latest",
        per_page: 1,
      });
      const first = found.data.check_runs[0];
      return first ? Number(first.id) : null;
    }

    // 1. the remembered run, 2. the one on the ref (a create whose answer was lost), 3. a new one.
    const remembered = row.check_run_id;
    if (remembered != null && (await update(remembered))) return remembered;
    const found = await find();
    if (found != null && found !== remembered && (await update(found))) return found;
    const created = await spaced(() =>
      octokit.request("POST /repos/{owner}/{repo}/check-runs", { ...body, head_sha: row.head_sha, request: { retries: 0 } }),
    );
    return Number(created.data.id);
  }

  /** Records a failed attempt: the permission, a rate limit, a transient error, or one to give up on. */
  async function failed(tx: CommonQueryMethods, row: DueCheckRun, error: HttpError, now: Date): Promise<void> {
    const status = error.status;
    const message = error.message ?? String(error);
    if (isMissingPermission(error)) {
      const retryAt = new Date(now.getTime() + PERMISSION_RETRY_MS);
      if (await recordMissingPermission(tx, row.installation_id, now, retryAt)) {
        log.warn(
          { installationId: row.installation_id, repository: row.repository },
          "cannot write check runs: the GitHub App lacks the Checks permission. Give the app Checks: read & write in its settings on GitHub, then accept the new permissions on the installation",
        );
      }
      await markCheckRunFailed(tx, row, "missing permission checks: write", retryAt);
      return;
    }
    const limitedUntil = rateLimitedUntil(error, now);
    if (limitedUntil) {
      pausedUntil.set(row.installation_id, limitedUntil);
      await postponeCheckRun(tx, row, limitedUntil);
      log.warn({ installationId: row.installation_id, until: limitedUntil.toISOString() }, "GitHub rate limit: check runs of this installation wait");
      return;
    }
    const attempts = row.attempts + 1;
    const transient = status === undefined || status >= 500;
    const retryAt = transient ? nextAttemptAt(retry, attempts, now) : null;
    await markCheckRunFailed(tx, row, message, retryAt);
    log.warn({ repository: row.repository, headSha: row.head_sha, status, attempts, err: message }, retryAt ? "check run not written; will retry" : "check run not written; giving up");
  }

  async function handleOne(): Promise<boolean> {
    const probot = deps.getProbot();
    if (!probot) return false;
    return deps.pool.transaction(async (tx) => {
      const now = deps.now();
      const row = await claimDueCheckRun(tx, now);
      if (!row) return false;
      const waits = [row.permission_retry_after, pausedUntil.get(row.installation_id)].filter((t): t is Date => t != null && t > now);
      if (waits.length > 0) {
        await postponeCheckRun(tx, row, new Date(Math.max(...waits.map((t) => t.getTime()))));
        return true;
      }
      pausedUntil.delete(row.installation_id);
      const checkRun = await content(tx, row);
      let id: number;
      try {
        id = await publish(await probot.auth(row.installation_id), row, checkRun);
      } catch (error) {
        // Only GitHub calls are in here: whatever they throw is that attempt's failure.
        await failed(tx, row, typeof error === "object" && error !== null ? (error as HttpError) : { message: String(error) }, now);
        return true;
      }
      await markCheckRunDone(tx, row, id);
      if (row.permission_retry_after) await clearMissingPermission(tx, row.installation_id);
      return true;
    });
  }

  return createRepeatingWorker({ log, intervalMs: deps.intervalMs ?? 2_000, maxPerPass: 200, handleOne });
}
