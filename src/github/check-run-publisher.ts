import type { Logger } from "pino";
import type { CommonQueryMethods, DatabasePool } from "slonik";
import {
  CHECK_RUNS_OUTBOX,
  clearMissingPermission,
  getCheckRunToSend,
  recordMissingPermission,
  type DueCheckRun,
} from "../db/check-runs.js";
import { getCommitHealth } from "../db/commit-health.js";
import { createOutbox, type Claim, type SendOutcome } from "../db/outbox.js";
import { createOutboxWorker } from "../outbox-worker.js";
import { nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { GITHUB_CALL_DEADLINE_MS, GITHUB_IN_PLACE_WAIT_SECONDS } from "./create-probot.js";
import { InstallationPausedError, type GithubClients, type Octokit } from "./github-clients.js";
import { checkRunConclusion, type ConclusionMode } from "./check-run-conclusion.js";
import { renderCheckRunSummary } from "./check-run-summary.js";

export const CHECK_RUN_NAME = "Runboard";

/**
 * How long an installation without `checks: write` is left alone before trying again (sooner
 * when `resumeCheckRuns` hears that new permissions were accepted).
 */
const PERMISSION_RETRY_MS = 60 * 60_000;

/**
 * How long a claimed commit is this worker's. A write makes at most five GitHub calls (the
 * installation token, update the remembered run, find by name, update it, create), each under
 * a deadline of GITHUB_CALL_DEADLINE_MS (10 s) and retried in place at most once after about a
 * second, with a rate-limit wait in place of at most GITHUB_IN_PLACE_WAIT_SECONDS (3 s) and two
 * write spacings of a second: 5 x (2 x 10 + 1 + 3) + 2 = 122 s. Three minutes covers it.
 */
export const CHECK_RUN_LEASE_MS = 3 * 60_000;
if (5 * (2 * GITHUB_CALL_DEADLINE_MS + 1_000 + GITHUB_IN_PLACE_WAIT_SECONDS * 1000) + 2_000 >= CHECK_RUN_LEASE_MS) {
  throw new Error("check-run lease shorter than its calls' deadlines");
}

export type CheckRunPublisher = RepeatingWorker;

/** The parts of Octokit's RequestError this worker reads; anything else thrown has none. */
interface HttpError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

const isMissingPermission = (error: HttpError) =>
  error.status === 403 && /not accessible by integration/i.test(error.message ?? "");

/**
 * Writes the "Runboard" check run of each commit whose runs finished: the remembered id is
 * updated; without one (or when it is gone) the run is found by name on the ref and updated,
 * else created. Rows come from the check-runs outbox (db/outbox.ts): claimed with a lease,
 * written with no transaction open, the outcome recorded after; a commit whose runs changed
 * during the write is written again at once. A create is never retried in place (Octokit's
 * retry plugin would repeat a POST that may have succeeded): the row's next try looks on the
 * ref first and finds what an ambiguous failure made. A 5xx or a network error is retried
 * with backoff; a rate limit waits as long as GitHub says, for the whole installation. Writes
 * are spaced at least `minIntervalMs` apart, as GitHub asks of content-creating requests.
 * An installation without `checks: write` is logged once and left alone for an hour at a
 * time; its rows wait, and nothing else is affected. With no GitHub App configured
 * rows stay pending and unclaimed.
 * @param conclusion `neutral` (default): information, never a merge blocker; `auto`: failure
 *   when a workflow failed, success when all passed.
 */
export function createCheckRunPublisher(deps: {
  pool: DatabasePool;
  github: GithubClients;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  conclusion?: ConclusionMode;
  minIntervalMs?: number;
  intervalMs?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  leaseMs?: number;
}): CheckRunPublisher {
  const retry = deps.retry ?? { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 10 };
  const conclusionMode = deps.conclusion ?? "neutral";
  const minIntervalMs = deps.minIntervalMs ?? 1_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = deps.log.child({ worker: "check-runs" });
  // Spacing is measured on the process's own clock: `now` may be frozen or shifted in tests
  // and schedules, but the gap between two requests is real time.
  let lastWriteAt = 0;

  /**
   * Writes start at least `minIntervalMs` apart, counted from the start of the one before: the
   * reads of the next commit (its token, its content, a find on the ref) fit in the gap, and the
   * requests stay one at a time, as GitHub asks.
   */
  async function spaced<T>(write: () => Promise<T>): Promise<T> {
    const wait = lastWriteAt + minIntervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    lastWriteAt = Date.now();
    return write();
  }

  /** The check run's content, from the database (outside the GitHub calls, whose errors are caught). */
  async function content(tx: CommonQueryMethods, row: DueCheckRun): Promise<CheckRunContent> {
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

  /** The outcome of a failed attempt: the permission, a rate limit, a transient error, or one to give up on. */
  async function failed(row: DueCheckRun, attempts: number, thrown: unknown, now: Date): Promise<SendOutcome> {
    const error = (typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) }) as HttpError;
    const status = error.status;
    const message = error.message ?? String(thrown);
    if (isMissingPermission(error)) {
      const retryAt = new Date(now.getTime() + PERMISSION_RETRY_MS);
      if (await recordMissingPermission(deps.pool, row.installation_id, now, retryAt)) {
        log.warn(
          { installationId: row.installation_id, repository: row.repository },
          "cannot write check runs: the GitHub App lacks the Checks permission. Give the app Checks: read & write in its settings on GitHub, then accept the new permissions on the installation",
        );
      }
      return { kind: "retry", at: retryAt, error: "missing permission checks: write" };
    }
    // The installation's client paused all of its requests; the row waits as long, on this
    // worker's clock, without counting an attempt.
    if (thrown instanceof InstallationPausedError) {
      return { kind: "retry", at: new Date(now.getTime() + thrown.waitMs), error: message, countAttempt: false };
    }
    const transient = status === undefined || status >= 500;
    const retryAt = transient ? nextAttemptAt(retry, attempts, now) : null;
    log.warn({ repository: row.repository, headSha: row.head_sha, status, attempts, err: message }, retryAt ? "check run not written; will retry" : "check run not written; giving up");
    return retryAt ? { kind: "retry", at: retryAt, error: message } : { kind: "failed", error: message };
  }

  async function send(claim: Claim<{ repository_id: number; head_sha: string }>, signal: AbortSignal): Promise<SendOutcome> {
    const now = deps.now();
    // Removed since the claim: the row waits for the app to be connected again.
    if (!deps.github.ready()) return { kind: "retry", at: new Date(now.getTime() + 60_000), countAttempt: false };
    const row = await getCheckRunToSend(deps.pool, claim.key);
    if (!row) return { kind: "failed", error: "check run row not found" };
    if (row.permission_retry_after && row.permission_retry_after > now) {
      return { kind: "retry", at: row.permission_retry_after, countAttempt: false };
    }
    const checkRun = await content(deps.pool, row);
    let id: number;
    try {
      id = await publish(await deps.github.installation(row.installation_id), row, checkRun, signal, spaced);
    } catch (error) {
      // Cut short by a stop: the outbox worker makes the row due again, in doubt; nothing to log.
      if (signal.aborted) return { kind: "retry", at: now, countAttempt: false, inDoubt: true };
      // Only GitHub calls are in here: whatever they throw is that attempt's failure.
      return failed(row, claim.attempts + 1, error, now);
    }
    if (row.permission_retry_after) await clearMissingPermission(deps.pool, row.installation_id);
    return { kind: "done", set: { check_run_id: id } };
  }

  return createOutboxWorker({
    outbox: createOutbox(deps.pool, { ...CHECK_RUNS_OUTBOX, leaseMs: deps.leaseMs ?? CHECK_RUN_LEASE_MS }),
    log,
    now: deps.now,
    intervalMs: deps.intervalMs ?? 2_000,
    maxPerPass: 200,
    retry,
    ready: () => deps.github.ready(),
    send,
  });
}

/** What a check run says: the body of its create or update. */
interface CheckRunContent {
  name: string;
  status: "completed";
  conclusion: ReturnType<typeof checkRunConclusion>;
  details_url: string;
  output: { title: string; summary: string };
}

/**
 * Updates or creates the commit's check run; resolves with its id. Writes go through `spaced`
 * (one at a time, a second apart); the find is a read and is not spaced.
 */
async function publish(
  octokit: Octokit,
  row: DueCheckRun,
  checkRun: CheckRunContent,
  signal: AbortSignal,
  spaced: <T>(write: () => Promise<T>) => Promise<T>,
): Promise<number> {
  const [owner, repo] = row.repository.split("/") as [string, string];
  const body = { owner, repo, ...checkRun };

  /** false when the run is gone (deleted with its suite). */
  async function update(id: number): Promise<boolean> {
    try {
      await spaced(() => octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...body, check_run_id: id, request: { signal } }));
      return true;
    } catch (error) {
      if ((error as HttpError).status === 404) return false;
      throw error;
    }
  }

  async function find(): Promise<number | null> {
    const found = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      request: { signal },
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
    octokit.request("POST /repos/{owner}/{repo}/check-runs", { ...body, head_sha: row.head_sha, request: { retries: 0, signal } }),
  );
  return Number(created.data.id);
}
