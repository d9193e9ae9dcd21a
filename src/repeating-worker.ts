import type { Logger } from "pino";

export interface RetryPolicy {
  /** First retry after this long; each later one waits twice as long, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** After this many failed attempts a row is given up on. */
  maxAttempts: number;
}

/** When to try again after `attempts` failed attempts, or null to give up. */
export function nextAttemptAt(policy: RetryPolicy, attempts: number, now: Date): Date | null {
  if (attempts >= policy.maxAttempts) return null;
  return new Date(now.getTime() + Math.min(policy.baseDelayMs * 2 ** (attempts - 1), policy.maxDelayMs));
}

export interface RepeatingWorker {
  start(): void;
  /** Stops the schedule and waits for a pass under way. */
  stop(): Promise<void>;
  /** Handles every item due now; resolves with how many it handled. */
  runOnce(): Promise<number>;
}

/**
 * Drains a queue in passes: each pass calls `handleOne` until it reports nothing left (or
 * `maxPerPass`, so that a row postponed into the past by a stopped clock cannot spin), then
 * the next pass comes `intervalMs` later. A failing pass (the database is down) is logged and
 * the schedule goes on.
 */
export function createRepeatingWorker(options: {
  log: Logger;
  intervalMs: number;
  maxPerPass: number;
  handleOne: () => Promise<boolean>;
}): RepeatingWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function runOnce(): Promise<number> {
    let handled = 0;
    // A stop ends the pass after the item under way, not after the whole queue.
    while (!stopped && handled < options.maxPerPass && (await options.handleOne())) handled += 1;
    return handled;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((error: unknown) => {
          options.log.error({ err: error }, "worker pass failed; the database may be unavailable, retrying");
          return 0;
        })
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
