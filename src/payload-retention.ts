import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { LOCK_KEYS, withAdvisoryLock } from "./db/advisory-lock.js";
import { dropPayloadBatch, getLastBuildId, getRetentionMark, saveRetentionMark, type RetentionPosition, type RetentionWalk } from "./db/payload-retention.js";
import { createSchedule, type Schedule } from "./schedule.js";

export interface RetentionPass {
  /** Runs created before this lose their payloads (and their jobs'). */
  before: Date;
  runs: number;
  jobs: number;
  batches: number;
  /** Why nothing was done, when nothing was. */
  skipped?: string;
}

export interface PayloadRetention {
  start(): void;
  /** Stops the schedule; a pass under way ends after its current batch. */
  stop(): Promise<void>;
  /** One pass now, on this replica if no other holds the lock. */
  runOnce(): Promise<RetentionPass>;
}

/**
 * PAYLOAD_RETENTION_DAYS: every hour, one replica (the advisory lock) drops the raw payloads of
 * runs created more than `days` days ago and of their jobs, `batchSize` runs per short
 * statement with a pause between, oldest first. A pass starts where the last complete one
 * ended (db/payload-retention.ts), so it costs the runs that left the window since, not all the
 * old ones. Normalized rows, alerts, excerpts and everything else stay.
 */
export function createPayloadRetention(deps: {
  pool: DatabasePool;
  connectionUri: string;
  log: Logger;
  now: () => Date;
  days: number;
  /** Counts what each batch dropped (the Prometheus counter). */
  onDropped?: (kind: "run" | "job", count: number) => void;
  batchSize?: number;
  pauseMs?: number;
  intervalSeconds?: number;
}): PayloadRetention {
  const log = deps.log.child({ worker: "payload-retention" });
  // About 1,000 rows a statement with a run's jobs: each holds its rows' locks for a fraction of
  // a second, well under the 2 s a webhook's write waits for a lock.
  const batchSize = deps.batchSize ?? 250;
  const pauseMs = deps.pauseMs ?? 200;
  let schedule: Schedule | null = null;
  let stopped = false;

  async function pass(): Promise<RetentionPass> {
    const started = performance.now();
    // 1. The window, where the last pass ended, and the newest run now.
    const before = new Date(deps.now().getTime() - deps.days * 86_400_000);
    const mark = await getRetentionMark(deps.pool);
    const through = await getLastBuildId(deps.pool);
    const result: RetentionPass = { before, runs: 0, jobs: 0, batches: 0 };
    // 2. Runs stored since the last pass (by id), then the runs that left the window since (by
    //    creation time; all of them at the first pass).
    const byId = mark ? await walk({ by: "id", before, after: mark.lastBuildId, through }, result) : { done: true, skipped: null };
    const byCreation = await walk({ by: "created_at", before, after: mark ? { createdAt: mark.droppedBefore, id: 0 } : null }, result);
    // 3. A complete pass: the next starts here, or at the first row left behind.
    if (byId.done && byCreation.done) {
      await saveRetentionMark(deps.pool, {
        droppedBefore: byCreation.skipped?.createdAt ?? before.toISOString(),
        lastBuildId: byId.skipped ? byId.skipped.id - 1 : through,
      });
    }
    log.info({ ...result, seconds: Math.round(performance.now() - started) / 1000 }, "payload retention pass");
    return result;
  }

  /** Batches along one walk until it ends (or the process stops); the first row it left. */
  async function walk(start: RetentionWalk, result: RetentionPass): Promise<{ done: boolean; skipped: RetentionPosition | null }> {
    let position = start;
    let skipped: RetentionPosition | null = null;
    for (;;) {
      const batch = await dropPayloadBatch(deps.pool, position, batchSize);
      result.batches += 1;
      result.runs += batch.runs;
      result.jobs += batch.jobs;
      deps.onDropped?.("run", batch.runs);
      deps.onDropped?.("job", batch.jobs);
      skipped ??= batch.skipped;
      if (batch.walked < batchSize || !batch.last) return { done: true, skipped };
      if (stopped) return { done: false, skipped };
      position = position.by === "id" ? { ...position, after: batch.last.id } : { ...position, after: batch.last };
      await sleep(pauseMs);
    }
  }

  async function runOnce(): Promise<RetentionPass> {
    const locked = await withAdvisoryLock(deps.connectionUri, LOCK_KEYS.payloadRetention, pass);
    if (locked.locked) return locked.value;
    return { before: new Date(deps.now().getTime() - deps.days * 86_400_000), runs: 0, jobs: 0, batches: 0, skipped: "another replica is dropping payloads" };
  }

  return {
    runOnce,
    start() {
      stopped = false;
      schedule = createSchedule({
        intervalSeconds: deps.intervalSeconds ?? 3_600,
        jitterSeconds: 60,
        run: () => runOnce().catch((error: unknown) => log.error({ err: error }, "payload retention pass failed; the next one tries again")),
      });
    },
    async stop() {
      stopped = true;
      await schedule?.stop();
      schedule = null;
    },
  };
}
