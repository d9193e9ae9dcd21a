import type { DatabasePool } from "slonik";
import { getWaitingNow } from "../db/job-metrics.js";
import { labelSetName, topLabelSets } from "../domain/queue-time.js";
import type { MetricsRegistry } from "./registry.js";

/** Label sets with their own series; the rest add up under `labels="other"`. */
export const WAITING_TOP_LABEL_SETS = 10;

/**
 * `runboard_jobs_waiting{labels}` and `runboard_jobs_waiting_longest_seconds{labels}`: jobs
 * waiting for a runner now, read from Postgres at each scrape. Labels are whatever workflows ask
 * for, so only the busiest label sets get a series of their own and the rest are "other": the
 * number of series stays bounded.
 */
export function addRunnerQueueMetrics(registry: MetricsRegistry, deps: { pool: DatabasePool; now: () => Date }): void {
  const waiting = registry.gauge("runboard_jobs_waiting", "Jobs waiting for a runner now, by runner label set (the busiest, then other).");
  const longest = registry.gauge("runboard_jobs_waiting_longest_seconds", "Longest current wait for a runner, by runner label set.");
  registry.onScrape(async () => {
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
      waiting.set(row.jobs, { labels: row.name });
      longest.set(Math.round(row.longest), { labels: row.name });
    }
  });
}
