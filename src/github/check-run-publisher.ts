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
import { renderCheckRunSummary } from "./check-run-summary.js";

export const CHECK_RUN_NAME = "Runboard";

/** How long an installation without `checks: write` is left alone before trying again. */
const PERMISSION_RETRY_MS = 60 * 60_000;

export type CheckRunPublisher = RepeatingWorker;

type Octokit = Awaited<ReturnType<Probot["auth"]>>;

interface HttpError {
  status?: number;
  message?: string;
}

/**
 * Writes the "Runboard" check run of each commit whose runs finished: find by name on the ref
 * (the remembered id first), update if found, else create. Rows are handled inside the
 * transaction that locked them (`FOR UPDATE SKIP LOCKED`), so replicas never write one twice;
 * after an ambiguous failure the next try finds the run a create may have made. Writes are
 * spaced at least `minIntervalMs` apart, as GitHub asks of content-creating requests. An
 * installation without `checks: write` is logged once and left alone for an hour at a time.
 */
export function createCheckRunPublisher(deps: {
  pool: DatabasePool;
  getProbot: () => Probot | null;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  minIntervalMs?: number;
  intervalMs?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}): CheckRunPublisher {
  const retry = deps.retry ?? { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };
  const minIntervalMs = deps.minIntervalMs ?? 1_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = deps.log.child({ worker: "check-runs" });
  let lastWriteAt = 0;

  async function spaced<T>(write: () => Promise<T>): Promise<T> {
    const wait = lastWriteAt + minIntervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      return await write();
    } finally {
      lastWriteAt = Date.now();
    }
  }

  async function publish(tx: CommonQueryMethods, octokit: Octokit, row: DueCheckRun): Promise<number> {
    const [owner, repo] = row.repository.split("/") as [string, string];
    const { title, summary } = renderCheckRunSummary(
      await getCommitHealth(tx, { repositoryId: row.repository_id, headSha: row.head_sha, defaultBranch: row.default_branch }),
      { headSha: row.head_sha, defaultBranch: row.default_branch, dashboardUrl: deps.baseUrl },
    );
    const body = {
      owner,
      repo,
      name: CHECK_RUN_NAME,
      status: "completed" as const,
      conclusion: "neutral" as const,
      details_url: `${deps.baseUrl}/builds?repository=${encodeURIComponent(row.repository)}`,
      output: { title, summary },
    };
    let id = row.check_run_id;
    if (id == null) {
      const found = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
        owner,
        repo,
        ref: row.head_sha,
        check_name: CHECK_RUN_NAME,
        filter: "latest",
        per_page: 1,
      });
      const first = found.data.check_runs[0];
      id = first ? Number(first.id) : null;
    }
    if (id != null) {
      try {
        await spaced(() => octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...body, check_run_id: id! }));
        return id;
      } catch (error) {
        // The remembered run is gone (deleted with its suite): make a new one.
        if ((error as HttpError).status !== 404) throw error;
      }
    }
    const created = await spaced(() => octokit.request("POST /repos/{owner}/{repo}/check-runs", { ...body, head_sha: row.head_sha }));
    return Number(created.data.id);
  }

  async function handleOne(): Promise<boolean> {
    const probot = deps.getProbot();
    if (!probot) return false;
    return deps.pool.transaction(async (tx) => {
      const now = deps.now();
      const row = await claimDueCheckRun(tx, now);
      if (!row) return false;
      if (row.permission_retry_after && row.permission_retry_after > now) {
        await postponeCheckRun(tx, row, row.permission_retry_after);
        return true;
      }
      try {
        const octokit = await probot.auth(row.installation_id);
        const id = await publish(tx, octokit, row);
        await markCheckRunDone(tx, row, id);
        if (row.permission_retry_after) await clearMissingPermission(tx, row.installation_id);
      } catch (error) {
        const status = (error as HttpError).status;
        const message = (error as HttpError).message ?? String(error);
        if (status === 403 && /not accessible by integration/i.test(message)) {
          const retryAt = new Date(now.getTime() + PERMISSION_RETRY_MS);
          if (await recordMissingPermission(tx, row.installation_id, now, retryAt)) {
            log.warn(
              { installationId: row.installation_id, repository: row.repository },
              "cannot write check runs: the GitHub App lacks the Checks permission. Give it Checks: read & write in the app's settings on GitHub, then accept the new permissions on the installation",
            );
          }
          await markCheckRunFailed(tx, row, "missing permission checks: write", retryAt);
          return true;
        }
        const attempts = row.attempts + 1;
        const transient = status === undefined || status >= 500 || status === 429 || status === 403;
        const retryAt = transient ? nextAttemptAt(retry, attempts, now) : null;
        await markCheckRunFailed(tx, row, message, retryAt);
        log.warn({ repository: row.repository, headSha: row.head_sha, status, attempts, err: message }, retryAt ? "check run not written; will retry" : "check run not written; giving up");
      }
      return true;
    });
  }

  return createRepeatingWorker({ log, intervalMs: deps.intervalMs ?? 2_000, maxPerPass: 200, handleOne });
}
