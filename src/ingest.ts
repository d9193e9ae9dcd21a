import { BackendTerminatedError, ConnectionError, type DatabasePool } from "slonik";
import { writeContext, type AlertingContext } from "./alerts/queue-alerts.js";
import type { Delivery } from "./db/deliveries.js";
import { writeBatch } from "./db/write-batch.js";
import type { BuildRecord, JobRecord } from "./domain/normalize.js";
import { isNewerJob, isNewerRun } from "./domain/newer.js";

export { BUILD_CHANGED_CHANNEL } from "./db/builds.js";

/**
 * A run or a job to store. `history`: brought in by the history import (or healed from before
 * the installation was first seen): stored and counted in the branch's state, but it sends no
 * alert and writes no check run.
 */
export type IngestInput = { kind: "run"; record: BuildRecord; history?: boolean } | { kind: "job"; record: JobRecord };

export interface IngestResult {
  /** duplicate: the delivery was seen before; unchanged: the data was stale or already known. */
  outcome: "changed" | "unchanged" | "duplicate";
  buildId: number | null;
}

/** Stores one run or job; the delivery, when given, makes a second arrival change nothing. */
export type Ingest = (input: IngestInput, delivery?: Delivery) => Promise<IngestResult>;

interface Pending {
  input: IngestInput;
  delivery: Delivery | null;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes a batch of events (often just one) and answers every caller once it is stored:
 * 1. keep the newest snapshot of each run and job (the others are unchanged, as the upsert
 *    would have found them; a redelivery carries data already written, so it never wins
 *    over fresh data it would not also have lost to in the database),
 * 2. write deliveries, runs, jobs and check runs, decide the alerts of the finished runs that
 *    changed and queue the reads of the jobs that changed to failed, all in one statement
 *    (see db/write-batch.ts): one round trip, atomic without a transaction around it.
 * An event whose delivery was seen before is a duplicate.
 */
async function ingestBatch(pool: DatabasePool, alerting: AlertingContext, batch: Pending[]): Promise<IngestResult[]> {
  const runWinner = new Map<string, number>();
  const jobWinner = new Map<number, number>();
  batch.forEach((p, i) => {
    if (p.input.kind === "run") {
      const key = `${p.input.record.providerId}:${p.input.record.repositoryId}:${p.input.record.externalId}`;
      const current = runWinner.get(key);
      if (current === undefined || isNewerRun(p.input.record, (batch[current]!.input as { record: BuildRecord }).record)) runWinner.set(key, i);
    } else {
      const current = jobWinner.get(p.input.record.id);
      if (current === undefined || isNewerJob(p.input.record, (batch[current]!.input as { record: JobRecord }).record)) jobWinner.set(p.input.record.id, i);
    }
  });
  const runIndexes = [...runWinner.values()];
  const jobIndexes = [...jobWinner.values()];
  const runs = runIndexes.map((i) => {
    const input = batch[i]!.input as { record: BuildRecord; history?: boolean };
    return { record: input.record, history: input.history === true };
  });
  const jobs = jobIndexes.map((i) => (batch[i]!.input as { record: JobRecord }).record);
  const deliveries = [...new Map(batch.flatMap((p) => (p.delivery ? [[p.delivery.id, p.delivery] as const] : []))).values()];

  const written = await writeBatch(pool, { deliveries, runs, jobs, now: alerting.now(), context: writeContext(alerting) });

  // The first event of a fresh delivery id is fresh; a repeat of it, or one seen before, is a duplicate.
  const claimed = new Set<string>();
  const results: IngestResult[] = batch.map((p) => {
    if (!p.delivery) return { outcome: "unchanged", buildId: null };
    if (!written.fresh.has(p.delivery.id) || claimed.has(p.delivery.id)) return { outcome: "duplicate", buildId: null };
    claimed.add(p.delivery.id);
    return { outcome: "unchanged", buildId: null };
  });
  const changedAt = (i: number | undefined, buildId: number) => {
    if (i !== undefined && results[i]!.outcome !== "duplicate") results[i] = { outcome: "changed", buildId };
  };
  const runIndex = new Map(runIndexes.map((i) => {
    const r = (batch[i]!.input as { record: BuildRecord }).record;
    return [`${r.repositoryId}:${r.externalId}`, i] as const;
  }));
  for (const changed of written.changedRuns) changedAt(runIndex.get(`${changed.repository_id}:${changed.external_id}`), changed.id);
  const jobIndex = new Map(jobIndexes.map((i) => [(batch[i]!.input as { record: JobRecord }).record.id, i]));
  for (const changed of written.changedJobs) changedAt(jobIndex.get(changed.id), changed.build_id);
  return results;
}

/** Events waiting while a batch is written: at most this many go into the next one. */
const MAX_BATCH = 100;
/**
 * Batches written at once. A delivery that arrives while one batch is being written goes out at
 * once in a second, instead of waiting for the first to end. In paired runs of bench/ingest.bench.ts
 * on a busy 2-core machine: the median answer at half load 24 against 44 ms, and 0.83 and 0.90 of
 * the raw limit at full speed against 0.55 and 0.66 with one lane. Two writers meet in the database as two replicas would (the
 * write function orders its rows and branch locks, and a deadlock is retried whole).
 */
const WRITE_LANES = 2;

/**
 * A batch that met a lock it could not take within the write function's lock_timeout (2 s) is
 * tried again whole after this pause, for as long as WRITE_DEADLINE_MS allows since it began:
 * the delivery is answered within a few seconds either way.
 */
const LOCK_RETRY_PAUSE_MS = 200;
const WRITE_DEADLINE_MS = 4_000;

/** The database could not take the write in time (a held lock, an outage): answer 503, the sender may try again. */
export class WriteUnavailableError extends Error {
  override name = "WriteUnavailableError";
}

/**
 * PostgreSQL's lock_not_available (a lock_timeout ran out) or deadlock_detected (two batches
 * met on rows and branch locks in opposite orders; one was rolled back), anywhere in the
 * error's causes: either way the batch is sound and is tried again whole.
 */
function isLockTimeout(error: unknown): boolean {
  for (let e: unknown = error; typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === "55P03" || code === "40P01") return true;
  }
  return false;
}

/**
 * The one write path for runs and jobs, from webhooks and the poller alike. A call is written at
 * once, as a batch of one, while fewer than WRITE_LANES batches are being written; calls that
 * arrive while every lane is busy wait and go together into the next batch (group commit): one
 * statement for many events, instead of one each. When a batch fails as a whole,
 * each of its events is written on its own, so one bad event fails only its own delivery; a
 * batch that waits on a lock is retried whole, and answered WriteUnavailableError within
 * about WRITE_DEADLINE_MS when the lock stays held.
 */
export function createIngest(deps: { pool: DatabasePool; alerting: AlertingContext }): Ingest {
  let queue: Pending[] = [];
  let lanes = 0;

  /**
   * Writes a batch, trying it again whole while it only meets lock time-outs; a batch that
   * cannot get its locks by the deadline fails with WriteUnavailableError.
   */
  async function writeInTime(batch: Pending[]): Promise<IngestResult[]> {
    // Real time on purpose: the sender is waiting for its answer, whatever `now` the alerts see.
    const deadline = Date.now() + WRITE_DEADLINE_MS;
    for (;;) {
      try {
        return await ingestBatch(deps.pool, deps.alerting, batch);
      } catch (error) {
        if (error instanceof ConnectionError || error instanceof BackendTerminatedError) {
          throw new WriteUnavailableError("the database is unreachable; try again", { cause: error });
        }
        if (!isLockTimeout(error)) throw error;
        if (Date.now() + LOCK_RETRY_PAUSE_MS >= deadline) {
          throw new WriteUnavailableError("the database held a lock the write needs for too long; try again", { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_PAUSE_MS));
      }
    }
  }

  async function drain() {
    lanes++;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_BATCH);
        queue = queue.slice(MAX_BATCH);
        try {
          const results = await writeInTime(batch);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          // Waiting longer would hold every later event too; splitting would multiply the wait.
          if (batch.length === 1 || error instanceof WriteUnavailableError) {
            for (const p of batch) p.reject(error);
            continue;
          }
          // Another failure: one of the events may be at fault; each alone fails only itself.
          for (const p of batch) {
            await writeInTime([p]).then(([result]) => p.resolve(result!), p.reject);
          }
        }
      }
    } finally {
      lanes--;
    }
  }

  return (input, delivery) =>
    new Promise<IngestResult>((resolve, reject) => {
      queue.push({ input, delivery: delivery ?? null, resolve, reject });
      if (lanes < WRITE_LANES) void drain();
    });
}
