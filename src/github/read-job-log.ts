import { createLogExcerptReader, type LogExcerpt, type StepWindow } from "../domain/log-excerpt.js";
import type { Octokit } from "./github-clients.js";

/** A log is read up to this many bytes at most; the excerpt is what was found by then. */
export const LOG_MAX_BYTES = 100 * 1024 * 1024;

/** The download from the short-lived address GitHub redirects to must end within this. */
export const LOG_DOWNLOAD_DEADLINE_MS = 60_000;

/** What reading a job's log came to. */
export type JobLogRead =
  | { kind: "read"; excerpt: LogExcerpt; bytes: number; truncated: boolean }
  /** 404: not there (yet: GitHub may still be storing it); 410: gone for good. */
  | { kind: "missing"; status: 404 | 410 };

interface HttpError {
  status?: number;
}

/**
 * Reads a job's log for the end of its failed step. GitHub answers
 * `GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs` with a redirect to a short-lived
 * address: the request goes through the installation's client (rate limits, its deadline) with
 * the redirect not followed, and the log is then downloaded from that address under its own
 * deadline, streamed through the excerpt reader (bounded memory whatever the log's size). The
 * download stops once the excerpt is complete, or at `maxBytes`.
 */
export async function readJobLog(
  octokit: Octokit,
  options: {
    owner: string;
    repo: string;
    jobId: number;
    step: StepWindow | null;
    signal: AbortSignal;
    deadlineMs?: number;
    maxBytes?: number;
  },
): Promise<JobLogRead> {
  let answer;
  try {
    answer = await octokit.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs", {
      owner: options.owner,
      repo: options.repo,
      job_id: options.jobId,
      request: { redirect: "manual", parseSuccessResponseBody: false, signal: options.signal },
    });
  } catch (error) {
    const status = (error as HttpError).status;
    if (status === 404 || status === 410) return { kind: "missing", status };
    throw error;
  }
  const location = answer.headers.location;
  // A server that answers the log itself (no redirect) is read from that answer.
  let body = answer.data as unknown as ReadableStream<Uint8Array> | null;
  if (answer.status >= 300 && answer.status < 400) {
    await body?.cancel().catch(() => undefined);
    if (typeof location !== "string" || !/^https?:\/\//i.test(location)) throw new Error(`log redirect without a usable address (${answer.status})`);
    const deadline = AbortSignal.timeout(options.deadlineMs ?? LOG_DOWNLOAD_DEADLINE_MS);
    // The address carries its own short-lived signature: no GitHub token goes to it.
    const download = await fetch(location, { signal: AbortSignal.any([options.signal, deadline]) });
    if (download.status === 404 || download.status === 410) {
      await download.body?.cancel().catch(() => undefined);
      return { kind: "missing", status: download.status };
    }
    if (!download.ok) {
      await download.body?.cancel().catch(() => undefined);
      throw Object.assign(new Error(`log download answered ${download.status}`), { status: download.status });
    }
    body = download.body;
  }
  return { kind: "read", ...(await streamExcerpt(body, options.step, options.maxBytes ?? LOG_MAX_BYTES)) };
}

/** Feeds a log body through the excerpt reader, up to `maxBytes`. */
async function streamExcerpt(
  body: ReadableStream<Uint8Array> | null,
  step: StepWindow | null,
  maxBytes: number,
): Promise<{ excerpt: LogExcerpt; bytes: number; truncated: boolean }> {
  const reader = createLogExcerptReader(step);
  let bytes = 0;
  let truncated = false;
  if (body) {
    const stream = body.getReader();
    try {
      for (;;) {
        const { done, value } = await stream.read();
        if (done) break;
        const room = maxBytes - bytes;
        const chunk = value.byteLength > room ? value.subarray(0, room) : value;
        bytes += chunk.byteLength;
        if (reader.push(chunk)) break;
        if (bytes >= maxBytes) {
          truncated = true;
          break;
        }
      }
    } finally {
      await stream.cancel().catch(() => undefined);
    }
  }
  return { excerpt: reader.end(), bytes, truncated };
}
