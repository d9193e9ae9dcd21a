import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { backfillRollups, foldRollups, pruneRollups } from "./db/build-rollups.js";
import { createRepeatingWorker, type RepeatingWorker } from "./repeating-worker.js";

/** Deltas folded per statement: a backlog (after an import with no app running) is folded in steps. */
const FOLD_BATCH = 50_000;
/** Rows of builds counted per backfill transaction: a live write waits at most for one batch. */
const BACKFILL_BATCH = 2_000;
/** Rollup rows deleted per statement when pruning. */
const PRUNE_BATCH = 5_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Keeps the rollups (db/build-rollups.ts): every pass (every 2 s) folds the deltas writes have
 * appended into them, so that what readers add up stays small; after an upgrade, counts the
 * builds written before them, a batch at a time from where the last batch ended (so a restart
 * resumes, and replicas take batches in turn); then, once an hour, deletes hour rows past the
 * horizon and rows that count nothing. Until the backfill is done, readers count the builds
 * themselves. Every replica folds: two folds at once each take their own deltas.
 */
export function createRollupWorker(deps: {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  intervalMs?: number;
  batch?: number;
}): RepeatingWorker {
  let backfilled = false;
  let prunedAt = 0;
  let pruning = false;
  return createRepeatingWorker({
    log: deps.log,
    intervalMs: deps.intervalMs ?? 2_000,
    maxPerPass: 100_000,
    async handleOne() {
      if ((await foldRollups(deps.pool, FOLD_BATCH)) === FOLD_BATCH) return true;
      if (!backfilled) {
        const progress = await backfillRollups(deps.pool, deps.batch ?? BACKFILL_BATCH);
        if (progress.finished) {
          backfilled = true;
          deps.log.info({ through_id: progress.through_id }, "rollups: every build is counted");
          return true;
        }
        deps.log.info({ done_id: progress.done_id, through_id: progress.through_id }, "rollups: counting the builds written before them");
        return true;
      }
      if (!pruning && deps.now().getTime() - prunedAt < PRUNE_EVERY_MS) return false;
      const deleted = await pruneRollups(deps.pool, deps.now(), PRUNE_BATCH);
      pruning = deleted === PRUNE_BATCH;
      if (!pruning) prunedAt = deps.now().getTime();
      return pruning;
    },
  });
}
