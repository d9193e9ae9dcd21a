import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { requeueCheckRun } from "../db/check-runs.js";
import { FAILURE_EXCERPTS_OUTBOX, excerptColumns, getFailureToRead, saveExcerpt, type FailureToRead } from "../db/failure-excerpts.js";
import { createOutbox, type Claim, type SendOutcome } from "../db/outbox.js";
import { failureSignature, type Annotation } from "../domain/failure-signature.js";
import type { StepWindow } from "../domain/log-excerpt.js";
import { redactSecrets } from "../domain/redact-secrets.js";
import { createOutboxWorker } from "../outbox-worker.js";
import { nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "../repeating-worker.js";
import { GITHUB_CALL_DEADLINE_MS, GITHUB_IN_PLACE_WAIT_SECONDS } from "./create-probot.js";
import { InstallationPausedError, type GithubClients, type Octokit } from "./github-clients.js";
import { HISTORY_BUDGET_SHARE } from "./history-import.js";
import { LOG_DOWNLOAD_DEADLINE_MS, readJobLog } from "./read-job-log.js";

/**
 * How long a claimed job is this worker's: the installation token, the annotations and the log
 * redirect (each under GITHUB_CALL_DEADLINE_MS, retried in place once after about a second, a
 * rate-limit wait in place of at most GITHUB_IN_PLACE_WAIT_SECONDS), then the download under
 * LOG_DOWNLOAD_DEADLINE_MS: 3 x 24 + 60 = 132 s. Three minutes covers it.
 */
export const FAILURE_READ_LEASE_MS = 3 * 60_000;
if (3 * (2 * GITHUB_CALL_DEADLINE_MS + 1_000 + GITHUB_IN_PLACE_WAIT_SECONDS * 1000) + LOG_DOWNLOAD_DEADLINE_MS >= FAILURE_READ_LEASE_MS) {
  throw new Error("failure-read lease shorter than its calls' deadlines");
}

/**
 * A log GitHub does not have yet (404 just after the job ended, while it stores it) is asked
 * for again after these waits; after the last, the job is recorded without an excerpt.
 */
export const LOG_NOT_READY_WAITS_MS = [10_000, 30_000, 90_000];

/** At most this many annotations are kept per job, each message cut to MAX_ANNOTATION_CHARS. */
const MAX_ANNOTATIONS = 10;
const MAX_ANNOTATION_CHARS = 500;

const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, maxAttempts: 8 };

export type FailureReader = RepeatingWorker;

interface HttpError {
  status?: number;
  message?: string;
}

/** The failed step's times, from the job's steps as GitHub reported them. */
function failedStepWindow(row: FailureToRead): StepWindow | null {
  const step = row.steps.find((s) => s.status === "failed");
  if (!step) return null;
  const time = (value: string | null) => (value && !Number.isNaN(Date.parse(value)) ? new Date(value) : null);
  return { startedAt: time(step.startedAt), completedAt: time(step.completedAt) };
}

/** GitHub's own annotations name `.github` as their path: no file to link to. */
function toAnnotation(raw: Record<string, unknown>): Annotation {
  const path = typeof raw.path === "string" && raw.path !== ".github" && raw.path !== "" ? raw.path : null;
  const message = typeof raw.message === "string" ? raw.message : "";
  return {
    level: typeof raw.annotation_level === "string" ? raw.annotation_level : "notice",
    message: redactSecrets([...message].slice(0, MAX_ANNOTATION_CHARS).join("")),
    path: path ? redactSecrets(path.slice(0, 300)) : null,
    line: path && typeof raw.start_line === "number" ? raw.start_line : null,
    title: typeof raw.title === "string" && raw.title ? redactSecrets(raw.title.slice(0, 200)) : null,
  };
}

/**
 * Reads what GitHub says about each failed job, from the failure-excerpts outbox (db/outbox.ts:
 * claimed with a lease, read with no transaction open, the outcome recorded after), each job
 * once: the annotations of its check run (`check_run_url` of the job: its id is not the job's)
 * and the end of its failed step's log (read-job-log.ts). Everything kept is redacted of
 * common secret shapes first, and gets the failure's signature. A log not there yet (404) is
 * asked for again a few times; a log that is gone (410, or still 404 at the end) leaves the
 * excerpt empty with the reason. A rate limit gives the row back with GitHub's time; other
 * failures are retried with backoff. Once read, the commit's check run is written again to
 * show it. Failures of imported history (queued for its last FAILURE_READ_DAYS only) wait
 * while the installation has less than the history import's share of its requests left. With no GitHub App configured rows stay pending and unclaimed.
 */
export function createFailureReader(deps: {
  pool: DatabasePool;
  github: GithubClients;
  log: Logger;
  now: () => Date;
  intervalMs?: number;
  retry?: RetryPolicy;
  leaseMs?: number;
  notReadyWaitsMs?: number[];
  downloadDeadlineMs?: number;
}): FailureReader {
  const retry = deps.retry ?? DEFAULT_RETRY;
  const notReadyWaits = deps.notReadyWaitsMs ?? LOG_NOT_READY_WAITS_MS;
  const log = deps.log.child({ worker: "failure-reader" });

  async function readAnnotations(octokit: Octokit, owner: string, repo: string, row: FailureToRead, signal: AbortSignal): Promise<Annotation[]> {
    const checkRunId = /\/check-runs\/(\d+)$/.exec(row.check_run_url ?? "")?.[1];
    if (!checkRunId) return [];
    try {
      const answer = await octokit.request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", {
        owner,
        repo,
        check_run_id: Number(checkRunId),
        per_page: 50,
        request: { signal },
      });
      const all = (answer.data as unknown as Array<Record<string, unknown>>).map(toAnnotation);
      // Failures first: they name the error; warnings and notices after, as room allows.
      const rank = (a: Annotation) => (a.level === "failure" ? 0 : a.level === "warning" ? 1 : 2);
      return all.sort((a, b) => rank(a) - rank(b)).slice(0, MAX_ANNOTATIONS);
    } catch (error) {
      // The check run is gone with its suite: the log may still say why.
      if ((error as HttpError).status === 404) return [];
      throw error;
    }
  }

  async function send(claim: Claim<{ job_id: number }>, signal: AbortSignal): Promise<SendOutcome> {
    const now = deps.now();
    if (!deps.github.ready()) return { kind: "retry", at: new Date(now.getTime() + 60_000), countAttempt: false };
    const row = await getFailureToRead(deps.pool, claim.key.job_id);
    if (!row) return { kind: "failed", error: "failed job not found" };
    if (row.installation_id == null) return { kind: "failed", error: "the run names no installation to read it with" };
    const [owner, repo] = row.repository.split("/") as [string, string];
    // History is read inside the import's budget: live work keeps the rest of the hour's requests.
    const budget = deps.github.budget(row.installation_id);
    if (row.history && budget && budget.remaining < budget.limit * HISTORY_BUDGET_SHARE) {
      return { kind: "retry", at: new Date(Math.max(budget.resetAt.getTime(), now.getTime() + 60_000)), countAttempt: false, error: "waiting for the rate limit's reset (history)" };
    }

    let annotations: Annotation[];
    let read: Awaited<ReturnType<typeof readJobLog>>;
    try {
      const octokit = await deps.github.installation(row.installation_id);
      annotations = await readAnnotations(octokit, owner, repo, row, signal);
      read = await readJobLog(octokit, {
        owner,
        repo,
        jobId: row.job_id,
        step: failedStepWindow(row),
        signal,
        deadlineMs: deps.downloadDeadlineMs,
      });
    } catch (error) {
      return failed(row, claim.attempts + 1, error, now);
    }

    let missingReason: string | null = null;
    let lines: string[] = [];
    let endsWithError = false;
    if (read.kind === "missing") {
      const wait = notReadyWaits[claim.attempts];
      if (read.status === 404 && wait !== undefined) {
        return { kind: "retry", at: new Date(now.getTime() + wait), error: "log not found (404): not stored yet?" };
      }
      missingReason = read.status === 410 ? "the log is gone (GitHub answered 410)" : "the log was not found (GitHub answered 404)";
    } else {
      lines = redactSecrets(read.excerpt.lines.join("\n")).split("\n");
      endsWithError = read.excerpt.endsWithError;
      if (read.excerpt.lines.length === 0) missingReason = read.truncated ? "the log was too long to read to the failed step" : "the failed step wrote nothing";
    }
    const signature = failureSignature({ annotations, lines, endsWithError });
    await saveExcerpt(deps.pool, row.job_id, row.build_id, excerptColumns({ lines, annotations, missingReason, signature }));
    const sha = row.commit_sha ?? row.head_sha;
    if (sha) await requeueCheckRun(deps.pool, { repository_id: row.repository_id, head_sha: sha }, now);
    log.info({ jobId: row.job_id, lines: lines.length, annotations: annotations.length, missingReason }, "failure read");
    return { kind: "done" };
  }

  function failed(row: FailureToRead, attempts: number, thrown: unknown, now: Date): SendOutcome {
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    if (thrown instanceof InstallationPausedError) {
      return { kind: "retry", at: new Date(now.getTime() + thrown.waitMs), error: message, countAttempt: false };
    }
    const status = (thrown as HttpError).status;
    // 5xx, a network error, a deadline: worth another try. Other 4xx (a permission) are not.
    const transient = status === undefined || status >= 500;
    const retryAt = transient ? nextAttemptAt(retry, attempts, now) : null;
    log.warn({ jobId: row.job_id, repository: row.repository, status, attempts, err: message }, retryAt ? "failure not read; will retry" : "failure not read; giving up");
    return retryAt ? { kind: "retry", at: retryAt, error: message } : { kind: "failed", error: message };
  }

  return createOutboxWorker({
    outbox: createOutbox(deps.pool, { ...FAILURE_EXCERPTS_OUTBOX, leaseMs: deps.leaseMs ?? FAILURE_READ_LEASE_MS }),
    log,
    now: deps.now,
    intervalMs: deps.intervalMs ?? 2_000,
    maxPerPass: 100,
    retry,
    ready: () => deps.github.ready(),
    send,
  });
}
