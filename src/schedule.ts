import cron, { type ScheduledTask } from "node-cron";

export interface Schedule {
  /** Stops the schedule and waits for a run under way. */
  stop(): Promise<void>;
}

/**
 * Runs `run` every `intervalSeconds` plus up to `jitterSeconds` (so replicas and installations
 * spread out), never two at once. node-cron ticks every second and each tick checks whether the
 * time has come, so any interval of 1 s or more works, not only divisors of a minute. Intervals
 * are real time on purpose (Date.now(), as node-cron's ticks are), not an injected clock.
 */
export function createSchedule(options: {
  intervalSeconds: number;
  jitterSeconds: number;
  run: () => Promise<unknown>;
  random?: () => number;
}): Schedule {
  const random = options.random ?? Math.random;
  let running: Promise<unknown> | undefined;
  let nextAt = Date.now() + random() * options.jitterSeconds * 1000;
  const task: ScheduledTask = cron.schedule("* * * * * *", () => {
    if (running || Date.now() < nextAt) return;
    nextAt = Date.now() + (options.intervalSeconds + random() * options.jitterSeconds) * 1000;
    running = options.run().finally(() => (running = undefined));
  });
  return {
    async stop() {
      await task.destroy();
      await running;
    },
  };
}
