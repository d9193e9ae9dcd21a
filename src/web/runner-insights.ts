import type { DatabasePool } from "slonik";
import { z } from "zod";
import {
  getQueueByHour,
  getQueueByRunner,
  getQueueByWorkflow,
  getQueueTotal,
  getUsageGroups,
  getWaitingNow,
  hourQueueSchema,
  queueTotalSchema,
  runnerQueueSchema,
  waitingSchema,
  workflowQueueSchema,
} from "../db/job-metrics.js";
import type { InstallationScope } from "../db/values.js";
import { estimateUsage, totalUsage, type RunnerMultiplier } from "../domain/runner-minutes.js";

/** The queue figures the Runners page shows and `GET /api/metrics/queue` answers. */
export const queueReportSchema = z.object({
  window_days: z.number().int(),
  total: queueTotalSchema,
  by_runner: z.array(runnerQueueSchema).describe("Per runner label set and runner group, busiest first"),
  by_workflow: z.array(workflowQueueSchema).describe("Per repository and workflow, longest p95 first"),
  by_hour: z.array(hourQueueSchema).describe("Per hour of the day (UTC) the jobs started, 0-23"),
  waiting: z.array(waitingSchema).describe("Jobs waiting for a runner now, per label set"),
});
export type QueueReport = z.infer<typeof queueReportSchema>;

/** Queue time of jobs that started in the last `days` days, and the jobs waiting now. */
export async function loadQueueReport(
  pool: DatabasePool,
  options: { days: number; now: Date; repository?: string | undefined; labels?: string[] | undefined; installations: InstallationScope },
): Promise<QueueReport> {
  const window = {
    since: new Date(options.now.getTime() - options.days * 86_400_000),
    until: options.now,
    now: options.now,
    repository: options.repository,
    labels: options.labels,
    installations: options.installations,
  };
  const [total, byRunner, byWorkflow, byHour, waiting] = await Promise.all([
    getQueueTotal(pool, window),
    getQueueByRunner(pool, window),
    getQueueByWorkflow(pool, { ...window, limit: 50 }),
    getQueueByHour(pool, window),
    getWaitingNow(pool, window),
  ]);
  return { window_days: options.days, total, by_runner: byRunner, by_workflow: byWorkflow, by_hour: byHour, waiting };
}

const usageRowSchema = z.object({
  repository: z.string(),
  workflow: z.string(),
  month: z.string().describe("YYYY-MM (UTC) the jobs started"),
  jobs: z.number().int(),
  minutes: z.number().int().describe("Each job's run time rounded up to the minute, on every runner"),
  estimated_minutes: z.number().describe("Billed minutes × the runner's multiplier (Linux 1, Windows 2, macOS 10, larger runners by RUNNER_MULTIPLIERS)"),
  self_hosted_minutes: z.number().int().describe("Minutes on self-hosted runners, not billed by GitHub"),
  free_minutes: z.number().int().describe("Minutes on standard GitHub-hosted runners in public repositories, free"),
  by_kind: z.record(z.string(), z.number()).describe("Estimated minutes per runner kind"),
});

/** Estimated minutes as the Runners page shows them and `GET /api/metrics/usage` answers. */
export const usageReportSchema = z.object({
  window_days: z.number().int(),
  estimate: z.literal(true).describe("Always true: an estimate from job durations, not GitHub's bill"),
  total: usageRowSchema.pick({ jobs: true, minutes: true, estimated_minutes: true, self_hosted_minutes: true, free_minutes: true }),
  by_workflow_month: z.array(usageRowSchema),
});
export type UsageReport = z.infer<typeof usageReportSchema>;

/** Estimated minutes of jobs that started in the last `days` days, per repository, workflow and month. */
export async function loadUsageReport(
  pool: DatabasePool,
  options: {
    days: number;
    now: Date;
    repository?: string | undefined;
    repositories?: readonly string[] | undefined;
    installations: InstallationScope;
    multipliers: readonly RunnerMultiplier[];
  },
): Promise<UsageReport> {
  const groups = await getUsageGroups(pool, {
    since: new Date(options.now.getTime() - options.days * 86_400_000),
    until: options.now,
    repository: options.repository,
    repositories: options.repositories,
    installations: options.installations,
  });
  const rows = estimateUsage(groups, options.multipliers);
  return { window_days: options.days, estimate: true, total: totalUsage(rows), by_workflow_month: rows };
}
