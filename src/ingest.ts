import type { DatabasePool } from "slonik";
import { queueAlerts, type AlertingContext } from "./alerts/queue-alerts.js";
import { ensureBuildForJob, upsertBuild } from "./db/builds.js";
import { enqueueCheckRun } from "./db/check-runs.js";
import { upsertJob } from "./db/build-jobs.js";
import type { Delivery } from "./db/deliveries.js";
import type { BuildRecord, JobRecord } from "./domain/normalize.js";
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

/**
 * The one write path for runs and jobs, from webhooks and the poller alike. Each upsert is one
 * statement that records the delivery (one seen before writes nothing), refuses stale data and
 * notifies listeners when the build really changed. Only a run that finishes needs more, in
 * the same transaction: the alert decision and its outbox rows, and the commit's check run.
 * 1. a finished run: transaction of upsert + alert decision + check run request,
 * 2. any other run: the upsert alone,
 * 3. a job: make sure its run's row exists, then the job's upsert.
 */
export function createIngest(deps: { pool: DatabasePool; alerting: AlertingContext }): Ingest {
  const outcome = (result: { fresh: boolean; changed: { id?: number; build_id?: number } | null }): IngestResult =>
    !result.fresh
      ? { outcome: "duplicate", buildId: null }
      : result.changed
        ? { outcome: "changed", buildId: result.changed.build_id ?? result.changed.id ?? null }
        : { outcome: "unchanged", buildId: null };

  return async (input, delivery) => {
    if (input.kind === "run") {
      if (!isFinished(input.record.status)) {
        return outcome(await upsertBuild(deps.pool, input.record, delivery ?? null));
      }
      return deps.pool.transaction(async (tx) => {
        const result = await upsertBuild(tx, input.record, delivery ?? null);
        const changed = result.changed;
        if (changed) {
          await queueAlerts(tx, changed, input.record.defaultBranch, deps.alerting);
          if (changed.installation_id != null && changed.commit_sha) {
            await enqueueCheckRun(
              tx,
              {
                repositoryId: changed.repository_id,
                repository: changed.repository,
                installationId: changed.installation_id,
                headSha: changed.commit_sha,
                defaultBranch: input.record.defaultBranch,
              },
              deps.alerting.now(),
            );
          }
        }
        return outcome(result);
      });
    }
    // A run row without its job is harmless (the run's own events complete it), so this need
    // not share a transaction with the job.
    await ensureBuildForJob(deps.pool, input.record);
    return outcome(await upsertJob(deps.pool, input.record, delivery ?? null));
  };
}
