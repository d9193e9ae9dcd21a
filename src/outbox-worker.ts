import type { Logger } from "pino";
import type { Claim, Outbox, SendOutcome } from "./db/outbox.js";
import { createRepeatingWorker, nextAttemptAt, type RepeatingWorker, type RetryPolicy } from "./repeating-worker.js";

/**
 * Drives one outbox in the three steps every sender follows:
 * 1. claim a due row with a lease (a short transaction, committed),
 * 2. `send` it with no transaction and no row lock open (the caller gives every outside call
 *    a deadline, and the table's lease is longer than their sum),
 * 3. record the outcome (a second short transaction).
 * A `send` that throws is a failed attempt, retried with `retry`'s backoff and given up on
 * after its last attempt. `stop()` aborts the send under way through its signal (a sender
 * that passes it on ends at once): the row is due again, in doubt, without an attempt counted.
 */
export function createOutboxWorker<Key>(options: {
  outbox: Outbox<Key>;
  log: Logger;
  now: () => Date;
  intervalMs: number;
  /** Rows handled in one pass at most, so that a row postponed into the past cannot spin. */
  maxPerPass: number;
  retry: RetryPolicy;
  /** While false, rows are left as they are (nothing to send with yet). */
  ready?: () => boolean;
  send: (claim: Claim<Key>, signal: AbortSignal) => Promise<SendOutcome>;
}): RepeatingWorker {
  const { outbox, log } = options;
  let stopping = new AbortController();

  async function handleOne(): Promise<boolean> {
    if (options.ready && !options.ready()) return false;
    const claim = await outbox.claim(options.now());
    if (!claim) return false;
    const signal = stopping.signal;
    let outcome: SendOutcome;
    try {
      outcome = await options.send(claim, signal);
      // Cut short by a stop: whatever the sender made of it, the row is tried again soon.
      if (signal.aborted && outcome.kind !== "done") outcome = { kind: "retry", at: options.now(), countAttempt: false, inDoubt: true };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const at = signal.aborted ? options.now() : nextAttemptAt(options.retry, claim.attempts + 1, options.now());
      outcome = signal.aborted
        ? { kind: "retry", at: options.now(), countAttempt: false, inDoubt: true }
        : at
          ? { kind: "retry", at, error: message }
          : { kind: "failed", error: message };
      log.warn({ key: claim.key, attempts: claim.attempts + 1, retryAt: at, err: message }, at ? "not sent; will retry" : "not sent; giving up");
    }
    if (!(await outbox.record(claim, outcome, options.now()))) {
      log.warn({ key: claim.key }, "a send outlasted its lease and another worker took the row over; raise the lease if this repeats");
    }
    return true;
  }

  const worker = createRepeatingWorker({ log, intervalMs: options.intervalMs, maxPerPass: options.maxPerPass, handleOne });
  return {
    ...worker,
    start() {
      stopping = new AbortController();
      worker.start();
    },
    async stop() {
      stopping.abort();
      await worker.stop();
    },
  };
}
