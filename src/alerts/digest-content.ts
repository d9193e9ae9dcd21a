import type { DatabasePool } from "slonik";
import { getDigestCounts, getJobCounts, getTimeToGreen, getWorkflowCounts, getWorkflowDurations, type DigestScope } from "../db/digest-figures.js";
import { listTopFailures } from "../db/failure-excerpts.js";
import { getQueueTotal, getUsageGroups } from "../db/job-metrics.js";
import { durationTrend, periodBefore, rateChange } from "../domain/digest-period.js";
import { flakyRate } from "../domain/flaky-rate.js";
import { estimateUsage, totalUsage, type RunnerMultiplier } from "../domain/runner-minutes.js";
import { successRate } from "../domain/success-rate.js";

/** One line of a digest's lists: what, a figure, and where to look. */
export interface DigestItem {
  label: string;
  detail: string;
  url: string;
}

/** Everything a digest says, whatever the medium; text is plain (escape it for the medium). */
export interface DigestContent {
  start: Date;
  end: Date;
  repositories: string[];
  runs: number;
  successRate: number | null;
  /** Percentage points since the period before; null when either is unknown. */
  successRateChange: number | null;
  timeToGreen: { fixes: number; medianSeconds: number | null };
  mostFailing: DigestItem[];
  flakiest: DigestItem[];
  slowest: Array<DigestItem & { p50Seconds: number; trend: number | null }>;
  /** The failure signatures seen most (the normalised error line of failed jobs), each linked to its latest run. */
  topFailures: DigestItem[];
  queueP95Seconds: number | null;
  estimatedMinutes: number;
  selfHostedMinutes: number;
  dashboardUrl: string;
  runnersUrl: string;
}

const TOP = 5;

/**
 * Collects a digest of `repositories` over [start, end), with the period before for changes; both
 * read at `now` (a digest sent late still counts each period whole, see db/digest-figures.ts).
 */
export async function loadDigestContent(
  pool: DatabasePool,
  options: { repositories: string[]; start: Date; end: Date; now: Date; baseUrl: string; multipliers: readonly RunnerMultiplier[] },
): Promise<DigestContent> {
  const scope: DigestScope = { repositories: options.repositories, start: options.start, end: options.end, now: options.now };
  const before: DigestScope = { ...scope, ...periodBefore(scope) };
  const [counts, previous, workflows, jobs, durations, previousDurations, green, queue, usage, failures] = await Promise.all([
    getDigestCounts(pool, scope),
    getDigestCounts(pool, before),
    getWorkflowCounts(pool, scope),
    getJobCounts(pool, scope),
    getWorkflowDurations(pool, scope),
    getWorkflowDurations(pool, before),
    getTimeToGreen(pool, scope),
    getQueueTotal(pool, { since: scope.start, until: scope.end, now: scope.end, repositories: scope.repositories }),
    getUsageGroups(pool, { since: scope.start, until: scope.end, repositories: scope.repositories }),
    listTopFailures(pool, { since: scope.start, until: scope.end, repositories: scope.repositories, limit: TOP }),
  ]);
  const workflowUrl = (repository: string, workflow: string) =>
    `${options.baseUrl}/workflows?${new URLSearchParams({ repository, workflow })}`;
  const rate = successRate(counts.success, counts.failed);

  const failingWorkflows = workflows
    .filter((w) => w.failed > 0)
    .map((w) => ({ label: `${w.repository} · ${w.workflow}`, detail: `${w.failed} failed of ${w.decided}`, url: workflowUrl(w.repository, w.workflow), n: w.failed }));
  const failingJobs = jobs
    .filter((j) => j.failed > 0)
    .map((j) => ({ label: `${j.repository} · ${j.workflow} · ${j.job}`, detail: `job failed ${j.failed}×`, url: workflowUrl(j.repository, j.workflow), n: j.failed }));
  const flakyWorkflows = workflows.flatMap((w) => {
    const r = flakyRate(w.flaky, w.decided);
    return w.flaky > 0 && r !== null
      ? [{ label: `${w.repository} · ${w.workflow}`, detail: `${(r * 100).toFixed(0)}% flaky (${w.flaky} of ${w.decided} runs)`, url: workflowUrl(w.repository, w.workflow), n: r }]
      : [];
  });
  const flakyJobs = jobs
    .filter((j) => j.flaky > 0)
    .map((j) => ({ label: `${j.repository} · ${j.workflow} · ${j.job}`, detail: `passed on a re-run ${j.flaky}×`, url: workflowUrl(j.repository, j.workflow), n: j.flaky / 100 }));
  const top = <T extends { n: number; label: string }>(items: T[]) =>
    items.sort((a, b) => b.n - a.n || a.label.localeCompare(b.label)).slice(0, TOP).map(({ n: _n, ...item }) => item);

  const slowest = durations
    .filter((d) => d.p50 !== null)
    .sort((a, b) => b.p50! - a.p50! || a.repository.localeCompare(b.repository))
    .slice(0, TOP)
    .map((d) => {
      const earlier = previousDurations.find((p) => p.repository === d.repository && p.workflow === d.workflow)?.p50 ?? null;
      return { label: `${d.repository} · ${d.workflow}`, detail: `${d.runs} runs`, url: workflowUrl(d.repository, d.workflow), p50Seconds: d.p50!, trend: durationTrend(d.p50, earlier) };
    });
  const minutes = totalUsage(estimateUsage(usage, options.multipliers));
  return {
    start: options.start,
    end: options.end,
    repositories: options.repositories,
    runs: counts.total,
    successRate: rate,
    successRateChange: rateChange(rate, successRate(previous.success, previous.failed)),
    timeToGreen: { fixes: green.fixes, medianSeconds: green.median_seconds },
    mostFailing: top([...failingWorkflows, ...failingJobs]),
    flakiest: top([...flakyWorkflows, ...flakyJobs]),
    slowest,
    topFailures: failures.map((f) => ({
      label: (f.error_line ?? f.signature).slice(0, 200),
      detail: `${f.failures} failed ${f.failures === 1 ? "job" : "jobs"} in ${f.runs} ${f.runs === 1 ? "run" : "runs"}, ${f.repository}`,
      url: `${options.baseUrl}/builds/${f.latest_build_id}`,
    })),
    queueP95Seconds: queue.p95_seconds,
    estimatedMinutes: minutes.estimated_minutes,
    selfHostedMinutes: minutes.self_hosted_minutes,
    dashboardUrl: options.repositories.length === 1 ? `${options.baseUrl}/builds?${new URLSearchParams({ repository: options.repositories[0]! })}` : `${options.baseUrl}/`,
    runnersUrl: `${options.baseUrl}/runners`,
  };
}
