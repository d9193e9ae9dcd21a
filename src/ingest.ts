import type { CommonQueryMethods, DatabasePool } from "slonik";
import { queueAlerts, type AlertingContext, type FinishedBuild } from "./alerts/queue-alerts.js";
import { upsertBuilds } from "./db/builds.js";
import { enqueueCheckRun } from "./db/check-runs.js";
import { upsertJobs } from "./db/build-jobs.js";
import { recordDeliveries, type Delivery } from "./db/deliveries.js";
import type { BuildRecord, JobRecord } from "./domain/normalize.js";
import { isNewerJob, isNewerRun } from "./domain/newer.js";
import { isFinished } from "./domain/status.js";

export { BUILD_CHANGED_CHANNEL } from "./db/builds.js";

export type IngestInput = { kind: "run"; record: BuildRecord } | { kind: "job"; record: JobRecord };

export interface IngestResult {
  /** duplicate: the delivery was seen before; unchanged: the data was stale or already known. */
  outcome: "changed" | "unchanged" | "duplicate";
  buildId: number | null;
}

/** Stores one run or job; the delivery, when given, makes a second arrival change nothing. */
export type Ingest = (input: IngestInput, delivery?: Delivery) => Promise<IngestResult>;

/** Finished runs that really changed: they need the alert decision and a check run. */
async function afterFinishedRuns(tx: CommonQueryMethods, finished: FinishedBuild[], alerting: AlertingContext): Promise<void> {
  await queueAlerts(tx, finished, alerting);
  for (const { build, defaultBranch } of finished) {
    if (build.installation_id != null && build.commit_sha) {
      await enqueueCheckRun(
        tx,
        {
          repositoryId: build.repository_id,
          repository: build.repository,
          installationId: build.installation_id,
          headSha: build.commit_sha,
          defaultBranch,
        },
        alerting.now(),
      );
    }
  }
}

interface Pending {
  input: IngestInput;
  delivery: Delivery | null;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes a batch of events (often just one) in one transaction, one statement per table:
 * 1. record the deliveries (those seen before are duplicates and write nothing),
 * 2. keep the newest snapshot of each run and job (the others are unchanged, as the upsert
 *    would have found them),
 * 3. upsert the runs and the jobs' run rows (one statement), then the jobs,
 * 4. for the finished runs that changed, the alert decisions and the check runs,
 * and answers every caller after the commit.
 */
async function ingestBatch(pool: DatabasePool, alerting: AlertingContext, batch: Pending[]): Promise<IngestResult[]> {
  return pool.transaction(async (tx) => {
    const fresh = await recordDeliveries(tx, batch.flatMap((p) => (p.delivery ? [p.delivery] : [])));
    const claimed = new Set<string>();
    const isFresh = batch.map((p) => {
      if (!p.delivery) return true;
      if (!fresh.has(p.delivery.id) || claimed.has(p.delivery.id)) return false;
      claimed.add(p.delivery.id);
      return true;
    });

    const runWinner = new Map<string, number>();
    const jobWinner = new Map<number, number>();
    batch.forEach((p, i) => {
      if (!isFresh[i]) return;
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
    const runs = runIndexes.map((i) => (batch[i]!.input as { record: BuildRecord }).record);
    const jobs = jobIndexes.map((i) => (batch[i]!.input as { record: JobRecord }).record);
    const changedRuns = await upsertBuilds(tx, runs, jobs);
    const changedJobs = await upsertJobs(tx, jobs);

    const results: IngestResult[] = batch.map((_, i) => (isFresh[i] ? { outcome: "unchanged", buildId: null } : { outcome: "duplicate", buildId: null }));
    const byKey = new Map(runIndexes.map((i) => {
      const r = (batch[i]!.input as { record: BuildRecord }).record;
      return [`${r.repositoryId}:${r.externalId}`, i] as const;
    }));
    const finished: FinishedBuild[] = [];
    for (const changed of changedRuns) {
      const i = byKey.get(`${changed.repository_id}:${changed.external_id}`);
      if (i === undefined) continue;
      results[i] = { outcome: "changed", buildId: changed.id };
      const record = (batch[i]!.input as { record: BuildRecord }).record;
      if (isFinished(changed.status)) finished.push({ build: changed, defaultBranch: record.defaultBranch });
    }
    await afterFinishedRuns(tx, finished, alerting);
    const jobIndex = new Map(jobIndexes.map((i) => [(batch[i]!.input as { record: JobRecord }).record.id, i]));
    for (const changed of changedJobs) {
      const i = jobIndex.get(changed.id);
      if (i !== undefined) results[i] = { outcome: "changed", buildId: changed.build_id };
    }
    return results;
  });
}

/** Events waiting while a batch is written: at most this many go into the next one. */
const MAX_BATCH = 100;

/**
 * The one write path for runs and jobs, from webhooks and the poller alike. Calls that arrive
 * while a batch is being written wait and go together into the next one (group commit): one
 * transaction and one statement per table for many events, instead of several round trips
 * each. A lone call is written at once, as a batch of one. When a batch fails as a whole,
 * each of its events is written on its own, so one bad event fails only its own delivery.
 */
export function createIngest(deps: { pool: DatabasePool; alerting: AlertingContext }): Ingest {
  let queue: Pending[] = [];
  let writing = false;

  async function drain() {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_BATCH);
        queue = queue.slice(MAX_BATCH);
        try {
          const results = await ingestBatch(deps.pool, deps.alerting, batch);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const p of batch) {
            await ingestBatch(deps.pool, deps.alerting, [p]).then(([result]) => p.resolve(result!), p.reject);
          }
        }
      }
    } finally {
      writing = false;
    }
  }

  return (input, delivery) =>
    new Promise<IngestResult>((resolve, reject) => {
      queue.push({ input, delivery: delivery ?? null, resolve, reject });
      if (!writing) void drain();
    });
}
