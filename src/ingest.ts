import { sql, type DatabasePool } from "slonik";
import { queueAlerts, type AlertingContext } from "./alerts/queue-alerts.js";
import { ensureBuildForJob, upsertBuild } from "./db/builds.js";
import { upsertJob } from "./db/build-jobs.js";
import { recordDelivery, type Delivery } from "./db/deliveries.js";
import type { BuildRecord, JobRecord } from "./domain/normalize.js";

/** The Postgres channel that carries the id of every build whose state really changed. */
export const BUILD_CHANGED_CHANNEL = "build_changed";

export type IngestInput = { kind: "run"; record: BuildRecord } | { kind: "job"; record: JobRecord };

export interface IngestResult {
  /** duplicate: the delivery was seen before; unchanged: the data was stale or already known. */
  outcome: "changed" | "unchanged" | "duplicate";
  buildId: number | null;
}

/** Stores one run or job; the delivery, when given, makes a second arrival change nothing. */
export type Ingest = (input: IngestInput, delivery?: Delivery) => Promise<IngestResult>;

/**
 * The one write path for runs and jobs, from webhooks and the poller alike, in one transaction:
 * 1. record the delivery (a delivery seen before stops here),
 * 2. upsert the run or job, which Postgres refuses when stale,
 * 3. for a run that really changed, decide alerts and write them to the outbox,
 * 4. when something really changed, notify listeners with the build's id.
 */
export function createIngest(deps: { pool: DatabasePool; alerting: AlertingContext }): Ingest {
  return (input, delivery) =>
    deps.pool.transaction(async (tx) => {
      if (delivery && !(await recordDelivery(tx, delivery))) {
        return { outcome: "duplicate", buildId: null };
      }
      let buildId: number | null = null;
      if (input.kind === "run") {
        const changed = await upsertBuild(tx, input.record);
        if (changed) {
          await queueAlerts(tx, changed, input.record.defaultBranch, deps.alerting);
        }
        buildId = changed?.id ?? null;
      } else {
        await ensureBuildForJob(tx, input.record);
        buildId = (await upsertJob(tx, input.record))?.build_id ?? null;
      }
      if (buildId === null) {
        return { outcome: "unchanged", buildId: null };
      }
      await tx.query(sql.unsafe`SELECT pg_notify(${BUILD_CHANGED_CHANNEL}, ${String(buildId)})`);
      return { outcome: "changed", buildId };
    });
}
