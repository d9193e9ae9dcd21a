import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BuildRecord, JobRecord } from "../domain/normalize.js";
import { changedRow, type ChangedBuild } from "./builds.js";
import type { Delivery } from "./deliveries.js";
import { jsonText } from "./values.js";

export interface BatchToWrite {
  deliveries: Delivery[];
  /** At most one snapshot per run; `history` runs queue no check run. */
  runs: Array<{ record: BuildRecord; history: boolean }>;
  /** At most one snapshot per job. */
  jobs: JobRecord[];
  now: Date;
  /**
   * The alerting context (src/alerts/queue-alerts.ts writeContext): with it, the finished runs'
   * alerts are decided and queued and the failed jobs' reads queued, in the same statement;
   * without it, the runs and jobs are only written.
   */
  context?: WriteContext | null;
}

/** The write function's `p_context`: the channels alerts may go to, and how far back failed jobs are read. */
export interface WriteContext {
  /** The default recipients; null when email is not configured. */
  email_to: string[] | null;
  /** The default channel (may be null); the whole object null when Slack is not configured. */
  slack: { channel: string | null } | null;
  send_delay_ms: number;
  failure_read_days: number;
}

export interface WrittenBatch {
  /** Delivery ids recorded now (the others were seen before). */
  fresh: Set<string>;
  changedRuns: ChangedBuild[];
  changedJobs: Array<{ id: number; build_id: number }>;
}

const resultRow = z.object({
  kind: z.enum(["delivery", "run", "job"]),
  delivery_id: z.string().nullable(),
  job_id: z.number().nullable(),
  build_id: z.number().nullable(),
  run: z.unknown(),
});

/** A changed run as JSON gives it back: the timestamp as text. */
const changedRun = changedRow.extend({ finished_at: z.coerce.date().nullable() });

const runRow = ({ record: r, history }: { record: BuildRecord; history: boolean }) => ({
  provider_id: r.providerId,
  installation_id: r.installationId,
  repository_id: r.repositoryId,
  repository: r.repository,
  external_id: r.externalId,
  run_attempt: r.runAttempt,
  run_number: r.runNumber,
  workflow_id: r.workflowId,
  workflow: r.workflow,
  status: r.status,
  status_rank: r.statusRank,
  raw_status: r.rawStatus,
  conclusion: r.conclusion,
  branch: r.branch,
  commit_sha: r.commitSha,
  commit_message: r.commitMessage,
  triggered_by: r.triggeredBy,
  event: r.event,
  url: r.url,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
  started_at: r.startedAt,
  finished_at: r.finishedAt,
  payload: r.payload ?? null,
  default_branch: r.defaultBranch,
  history,
});

const jobRow = (j: JobRecord) => ({
  id: j.id,
  provider_id: j.providerId,
  installation_id: j.installationId,
  repository_id: j.repositoryId,
  repository: j.repository,
  run_id: j.runId,
  run_attempt: j.runAttempt,
  workflow: j.workflow,
  branch: j.branch,
  commit_sha: j.commitSha,
  name: j.name,
  status: j.status,
  status_rank: j.statusRank,
  progress: j.progress,
  raw_status: j.rawStatus,
  conclusion: j.conclusion,
  runner_labels: j.runnerLabels,
  runner_name: j.runnerName,
  runner_group: j.runnerGroup,
  steps: j.steps,
  failed_step: j.failedStep,
  url: j.url,
  queued_at: j.queuedAt,
  started_at: j.startedAt,
  completed_at: j.completedAt,
  payload: j.payload ?? null,
});

/**
 * Writes a batch (deliveries, runs, jobs, the check runs of commits whose runs finished and,
 * given a context, the alerts the finished runs decide and the reads of failed jobs) in one call
 * of `runboard_write_batch` (migrations/0023_write_lock_order.sql, where the rules are): one
 * statement, atomic without a transaction around it. Returns what really changed. Records go as
 * JSON: the payloads are serialized once, with the rest of the batch, and PostgreSQL parses them once.
 */
export async function writeBatch(tx: CommonQueryMethods, batch: BatchToWrite): Promise<WrittenBatch> {
  const rows = await tx.any(sql.type(resultRow)`
    SELECT kind, delivery_id, job_id, build_id, run FROM runboard_write_batch(
      ${jsonText(batch.deliveries)}::jsonb, ${jsonText(batch.runs.map(runRow))}::jsonb,
      ${jsonText(batch.jobs.map(jobRow))}::jsonb, ${sql.timestamp(batch.now)},
      ${batch.context ? sql.fragment`${jsonText(batch.context)}::jsonb` : sql.fragment`NULL::jsonb`})`);

  const written: WrittenBatch = { fresh: new Set(), changedRuns: [], changedJobs: [] };
  for (const row of rows) {
    if (row.kind === "delivery") written.fresh.add(row.delivery_id!);
    else if (row.kind === "job") written.changedJobs.push({ id: row.job_id!, build_id: row.build_id! });
    else written.changedRuns.push(changedRun.parse(row.run));
  }
  return written;
}
