import { Gauge, type Registry } from "prom-client";
import type { DatabasePool } from "slonik";
import { getWaitingNow } from "../db/job-metrics.js";
import { labelSetName, topLabelSets } from "../domain/queue-time.js";

/** Label sets with their own series; the rest add up under `labels="other"`. */
export const WAITING_TOP_LABEL_SETS = 10;

/**
 * `runboard_jobs_waiting{labels}` and `runboard_jobs_waiting_longest_seconds{labels}`: jobs
 * waiting for a runner now, read from Postgres at each scrape (call the returned function before
 * rendering). Labels are whatever workflows ask for, so only the busiest label sets get a series
 * of their own and the rest are "other": the number of series stays bounded.
 */
export function addRunnerQueueMetrics(registry: Registry, deps: { pool: DatabasePool; now: () => Date }): () => Promise<void> {
  const on = { registers: [registry] };
  const waiting = new Gauge({ ...on, name: "runboard_jobs_waiting", help: "Jobs waiting for a runner now, by runner label set (the busiest, then other).", labelNames: ["labels"] });
  const longest = new Gauge({ ...on, name: "runboard_jobs_waiting_longest_seconds", help: "Longest current wait for a runner, by runner label set.", labelNames: ["labels"] });
  return async () => {
    waiting.reset();
    longest.reset();
    // A database that does not answer leaves both empty; runboard_metrics_database_up says why.
    const rows = await getWaitingNow(deps.pool, { now: deps.now() }).catch(() => []);
    const named = rows.map((row) => ({ name: labelSetName(row.labels), jobs: row.jobs, longest: row.longest_seconds }));
    const series = topLabelSets(named, WAITING_TOP_LABEL_SETS, (rest) => ({
      name: "other",
      jobs: rest.reduce((sum, r) => sum + r.jobs, 0),
      longest: Math.max(...rest.map((r) => r.longest)),
    }));
    for (const row of series) {
      waiting.set({ labels: row.name }, row.jobs);
      longest.set({ labels: row.name }, Math.round(row.longest));
    }
  };
}
