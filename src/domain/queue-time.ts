/**
 * Queue time is the wait for a runner: from a job's `queued_at` to its `started_at`. Only jobs
 * that ran count. Left out: skipped jobs, jobs that waited for an environment's approval (their
 * wait is a person's), and jobs whose end never arrived: started, or still queued, longer ago
 * than this cut-off (a lost delivery, not a runner that is still busy). GitHub gives up on a job
 * that found no runner in 24 hours.
 */
export const QUEUE_CUTOFF_HOURS = 24;

/** How a set of runner labels is named on pages, in alerts and in metrics: sorted, comma-separated. */
export function labelSetName(labels: readonly string[]): string {
  const unique = [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return unique.length === 0 ? "(no labels)" : unique.join(", ");
}

/** The labels of a `labels=` filter: comma-separated, blanks dropped. */
export function parseLabelSet(text: string): string[] {
  return [...new Set(text.split(",").map((label) => label.trim()).filter(Boolean))];
}

/** Seconds as whole minutes, rounded up: "p95 queue 14 min". */
export function wholeMinutes(seconds: number): number {
  return Math.ceil(seconds / 60);
}

export interface LabelSetCount {
  name: string;
  jobs: number;
}

/**
 * Keeps the `top` label sets with the most jobs and folds the rest into one "other": a bounded
 * number of series for metrics, whatever labels people invent.
 */
export function topLabelSets<T extends LabelSetCount>(rows: readonly T[], top: number, fold: (rest: T[]) => T): T[] {
  const sorted = [...rows].sort((a, b) => b.jobs - a.jobs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (sorted.length <= top) return sorted;
  return [...sorted.slice(0, top), fold(sorted.slice(top))];
}
