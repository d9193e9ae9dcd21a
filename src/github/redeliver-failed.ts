import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import {
  claimDueRedelivery,
  claimRedelivery,
  recordLoggedRedeliveries,
  recordRedeliveryOutcome,
  type ClaimedRedelivery,
  type LoggedDelivery,
  type RedeliveryOutcome,
} from "../db/redeliveries.js";
import { getRedeliveryScan, saveRedeliveryScan, type RedeliveryScan } from "../db/redelivery-scan.js";
import { nextAttemptAt, type RetryPolicy } from "../repeating-worker.js";
import { GITHUB_CALL_DEADLINE_MS, GITHUB_IN_PLACE_WAIT_SECONDS } from "./create-probot.js";
import { InstallationPausedError, type GithubClients, type Octokit } from "./github-clients.js";
import { REDELIVERED_EVENTS, failedGuids, readDeliveryLog, succeeded, type HookDelivery, type Walk } from "./read-delivery-log.js";


/** GitHub redelivers only deliveries of the last three days; older ones are not read. */
export const REDELIVERY_WINDOW_MS = 3 * 24 * 60 * 60_000;


/**
 * How long a claimed redelivery is this worker's: one POST under a deadline of
 * GITHUB_CALL_DEADLINE_MS (10 s, never retried in place) after a rate-limit wait in place of at
 * most GITHUB_IN_PLACE_WAIT_SECONDS (3 s). Two minutes covers it many times over.
 */
export const REDELIVERY_LEASE_MS = 2 * 60_000;
if (GITHUB_CALL_DEADLINE_MS + GITHUB_IN_PLACE_WAIT_SECONDS * 1000 >= REDELIVERY_LEASE_MS) {
  throw new Error("redelivery lease shorter than its call's deadline");
}

/**
 * 4xx answers that say nothing about the delivery itself (the app's token was refused, a rate
 * limit, a time-out on GitHub's side): worth asking again, unlike a 404 or 422 (gone, too old).
 */
const TRANSIENT_4XX = new Set([401, 403, 408, 429]);

export interface FailedDeliveryRedeliverer {
  /**
   * One pass: reads GitHub's delivery log down to where the last pass stopped (or the window),
   * a bounded number of pages, and asks GitHub once for each failed event Runboard lacks.
   * @returns log entries read, and redeliveries GitHub accepted.
   */
  runOnce(): Promise<{ seen: number; redelivered: number }>;
}

const logged = (d: HookDelivery): LoggedDelivery => ({
  guid: d.guid,
  deliveryId: d.id,
  event: d.event,
  action: d.action ?? null,
  installationId: d.installation_id ?? null,
  repositoryId: d.repository_id ?? null,
});

/**
 * Asks GitHub to redeliver webhook deliveries that it records as failed and that Runboard never
 * stored (Runboard was down, unreachable, or answered an error), so that a short outage loses no
 * run, job or installation change. Each pass:
 * 1. read the app's delivery log newest first, page by page with GitHub's cursor, down to the
 *    entries read by an earlier finished walk (the high-water mark) or the edge of GitHub's
 *    redelivery window, at most `maxPages` pages (a longer walk resumes at the next pass)
 * 2. learn from the redeliveries in it: a guid redelivered successfully needs nothing more
 * 3. for each guid of a recorded event whose every attempt read failed, not in `deliveries`:
 *    claim it (the insert is the claim: a guid is asked for once, again only when GitHub did
 *    not answer that request) and POST one redelivery, at most `maxRedeliveries` a pass; the
 *    rest are queued for the next pass
 * 4. remember how far the log was read
 * 5. send redeliveries due again (queued, after an error, or left by a worker that died) with
 *    what is left of the pass's `maxRedeliveries`
 * A 4xx answer (too old, gone) is final. A 5xx, network error, deadline or rate limit is retried
 * on a later pass with backoff, not in place: a POST that timed out may have been carried out,
 * and the wait lets a later walk see the redelivery it made (then it is not asked for again).
 * The POST holds no transaction and no row lock, and its outcome is recorded under its lease.
 */
export function createFailedDeliveryRedeliverer(deps: {
  pool: DatabasePool;
  /** Its `app()` client authenticates as the app (JWT), which the delivery log needs. */
  github: Pick<GithubClients, "app">;
  log: Logger;
  now: () => Date;
  /** POSTs a pass makes at most (default 100). */
  maxRedeliveries?: number;
  /** Log pages a pass reads at most (default 10). */
  maxPages?: number;
  /** Entries per page, at most GitHub's 100 (default 100). */
  perPage?: number;
  windowMs?: number;
  /**
   * Entries younger than this are left for a later pass (default a minute): GitHub records a
   * delivery Runboard answered late as failed, and its row in `deliveries` may not be written yet.
   */
  settleMs?: number;
  /** Backoff after a failed POST (default 10 minutes doubling to 2 hours, 8 attempts). */
  retry?: RetryPolicy;
}): FailedDeliveryRedeliverer {
  const log = deps.log.child({ worker: "redeliverer" });
  const maxRedeliveries = deps.maxRedeliveries ?? 100;
  const maxPages = deps.maxPages ?? 10;
  const perPage = Math.min(deps.perPage ?? 100, 100);
  const windowMs = deps.windowMs ?? REDELIVERY_WINDOW_MS;
  const settleMs = deps.settleMs ?? 60_000;
  const retry = deps.retry ?? { baseDelayMs: 10 * 60_000, maxDelayMs: 2 * 60 * 60_000, maxAttempts: 8 };

  function failure(error: unknown, attempts: number, now: Date): RedeliveryOutcome {
    const status = (error as { status?: number }).status;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof InstallationPausedError) {
      return { outcome: "error", statusCode: null, error: message, retryAfter: new Date(now.getTime() + error.waitMs) };
    }
    if (status !== undefined && status >= 400 && status < 500 && !TRANSIENT_4XX.has(status)) {
      return { outcome: "refused", statusCode: status, error: message };
    }
    return { outcome: "error", statusCode: status ?? null, error: message, retryAfter: nextAttemptAt(retry, attempts, now) };
  }

  /** POSTs one redelivery and records GitHub's answer. @returns whether GitHub accepted it. */
  async function send(octokit: Octokit, claim: ClaimedRedelivery, token: string): Promise<boolean> {
    let result: RedeliveryOutcome;
    try {
      // Not retried in place: a POST that failed may have been carried out (see above).
      const response = await octokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", {
        delivery_id: claim.deliveryId,
        request: { retries: 0 },
      });
      result = { outcome: "requested", statusCode: response.status };
    } catch (error) {
      result = failure(error, claim.attempts, deps.now());
    }
    const context = { guid: claim.guid, deliveryId: claim.deliveryId, event: claim.event, attempts: claim.attempts };
    if (result.outcome === "refused") {
      log.warn({ ...context, status: result.statusCode, err: result.error }, "GitHub refused to redeliver (too old or gone); the event is not asked for again");
    } else if (result.outcome === "error") {
      log.warn(
        { ...context, status: result.statusCode, err: result.error, retryAt: result.retryAfter },
        result.retryAfter ? "redelivery not requested; a later pass tries again" : "redelivery not requested; giving up after repeated errors",
      );
    }
    if (!(await recordRedeliveryOutcome(deps.pool, claim.guid, token, result))) {
      log.warn(context, "a redelivery request outlasted its lease and another worker took the row over");
    }
    return result.outcome === "requested";
  }

  async function saveWalk(scan: RedeliveryScan, result: Walk): Promise<void> {
    const { end, top } = result;
    let next: { floorId: number | null; walkTopId: number | null; walkCursor: string | null };
    if (end.kind === "finished") next = { floorId: top ?? scan.floor_id, walkTopId: null, walkCursor: null };
    else if (end.kind === "restart") next = { floorId: scan.floor_id, walkTopId: null, walkCursor: null };
    // Nothing settled was read: the next pass may as well start afresh.
    else if (top === null) return;
    else next = { floorId: scan.floor_id, walkTopId: top, walkCursor: end.cursor };
    // Another pass saved first: it read the same log, and its position stands.
    await saveRedeliveryScan(deps.pool, scan.version, next);
  }

  async function runOnce(): Promise<{ seen: number; redelivered: number }> {
    const octokit = await deps.github.app();
    if (!octokit) return { seen: 0, redelivered: 0 };
    let budget = maxRedeliveries;
    let redelivered = 0;
    let queued = 0;
    const lease = () => {
      const now = deps.now();
      return { now, token: randomUUID(), leaseUntil: new Date(now.getTime() + REDELIVERY_LEASE_MS) };
    };

    // 1. read the log
    const scan = await getRedeliveryScan(deps.pool);
    const result = await readDeliveryLog(octokit, scan, { log, now: deps.now(), maxPages, perPage, windowMs, settleMs });

    // 2. learn from the redeliveries in it
    await recordLoggedRedeliveries(
      deps.pool,
      result.entries.filter((d) => d.redelivery && REDELIVERED_EVENTS.has(d.event)).map((d) => ({ ...logged(d), deliveredAt: new Date(d.delivered_at), succeeded: succeeded(d) })),
    );

    // 3. claim and redeliver the failed ones, queue what this pass may not send
    for (const delivery of failedGuids(result.entries)) {
      const claim = lease();
      const token = budget > 0 ? claim.token : null;
      if (!(await claimRedelivery(deps.pool, logged(delivery), { ...claim, token }))) continue;
      if (!token) {
        queued += 1;
        continue;
      }
      budget -= 1;
      if (await send(octokit, { guid: delivery.guid, deliveryId: delivery.id, event: delivery.event, attempts: 1 }, token)) redelivered += 1;
    }

    // 4. remember how far the log was read
    await saveWalk(scan, result);

    // 5. send what is due again
    while (budget > 0) {
      const claim = lease();
      const due = await claimDueRedelivery(deps.pool, claim);
      if (!due) break;
      budget -= 1;
      if (await send(octokit, due, claim.token)) redelivered += 1;
    }

    const stats = { seen: result.entries.length, redelivered };
    if (redelivered > 0 || queued > 0 || budget < maxRedeliveries) log.info({ ...stats, queued, requests: maxRedeliveries - budget }, "failed webhook deliveries redelivered");
    return stats;
  }

  return { runOnce };
}
