import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { STATUSES } from "../domain/status.js";
import { decidedRun } from "./metric-sql.js";

const commitRow = z.object({
  branch: z.string().nullable(),
  message: z.string().nullable(),
});
export type CommitInfo = z.infer<typeof commitRow>;

const workflowRow = z.object({
  build_id: z.number(),
  workflow: z.string(),
  status: z.enum(STATUSES),
  branch: z.string().nullable(),
  duration_seconds: z.number().nullable(),
  usual_p50: z.number().nullable(),
  recent_runs: z.number(),
  recent_failed: z.number(),
  last_green_sha: z.string().nullable(),
  last_green_message: z.string().nullable(),
});
export type CommitWorkflow = z.infer<typeof workflowRow>;

const failedJobRow = z.object({
  workflow: z.string(),
  name: z.string(),
  failed_step: z.string().nullable(),
  url: z.string().nullable(),
  passed_on_this_commit: z.boolean(),
  flaky_commits: z.number(),
  /** What was read of the failure (db/failure-excerpts.ts): none until it is. */
  commit_sha: z.string().nullable(),
  run_url: z.string().nullable(),
  excerpt: z.array(z.string()).nullable(),
  annotations: z.array(z.object({ level: z.string(), message: z.string(), path: z.string().nullable(), line: z.number().nullable() }).passthrough()).nullable().catch(null),
});
export type FailedJob = z.infer<typeof failedJobRow>;

export interface CommitHealth {
  /** The commit's branch and message, from its newest run; null when no run of it is stored. */
  commit: CommitInfo | null;
  workflows: CommitWorkflow[];
  failedJobs: FailedJob[];
}

/** How far back "fails often without code changes" looks, before the run in question. */
const FLAKY_WINDOW = sql.interval({ days: 30 });

/**
 * What a reviewer wants to know about one commit: each workflow's latest run on it with its
 * duration beside the workflow's usual p50 on that branch (successful runs of the last 30 days),
 * how many of the workflow's last 10 runs on the default branch failed and its last green
 * commit there; and the failed jobs with their failed step and two signs of flakiness: the
 * same job passed on this same commit, and on how many other recent commits the same job both
 * failed and passed (it failed without a code change).
 */
export async function getCommitHealth(
  connection: CommonQueryMethods,
  options: { repositoryId: number; headSha: string; defaultBranch: string | null },
): Promise<CommitHealth> {
  const defaultBranch = options.defaultBranch ?? "main";
  const commit = await connection.maybeOne(sql.type(commitRow)`
    SELECT branch, commit_message AS message FROM builds
    WHERE repository_id = ${options.repositoryId} AND commit_sha = ${options.headSha}
    ORDER BY created_at DESC NULLS LAST, id DESC
    LIMIT 1`);
  const workflows = await connection.any(sql.type(workflowRow)`
    WITH latest AS (
      SELECT DISTINCT ON (coalesce(workflow_id::text, workflow)) *
      FROM builds
      WHERE repository_id = ${options.repositoryId} AND commit_sha = ${options.headSha}
      ORDER BY coalesce(workflow_id::text, workflow), created_at DESC NULLS LAST, id DESC
    )
    SELECT l.id AS build_id, l.workflow, l.status, l.branch, l.duration_seconds,
      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY o.duration_seconds)::float8 FROM builds o
        WHERE o.repository_id = l.repository_id AND o.workflow = l.workflow AND o.branch = l.branch
          AND o.status = 'success' AND o.id <> l.id AND o.created_at >= l.created_at - interval '30 days') AS usual_p50,
      r.runs AS recent_runs, r.failed AS recent_failed,
      g.commit_sha AS last_green_sha, g.commit_message AS last_green_message
    FROM latest l
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS runs, count(*) FILTER (WHERE t.status = 'failed')::int AS failed
      FROM (SELECT status FROM builds d
            WHERE d.repository_id = l.repository_id AND d.workflow = l.workflow AND d.branch = ${defaultBranch}
              AND ${decidedRun("d")}
            ORDER BY d.created_at DESC NULLS LAST, d.id DESC LIMIT 10) t
    ) r
    LEFT JOIN LATERAL (
      SELECT s.commit_sha, s.commit_message FROM builds s
      WHERE s.repository_id = l.repository_id AND s.workflow = l.workflow AND s.branch = ${defaultBranch}
        AND s.status = 'success'
      ORDER BY s.created_at DESC NULLS LAST, s.id DESC LIMIT 1
    ) g ON true
    ORDER BY l.workflow`);
  // The flaky history is bounded by time through builds_repository_workflow_created_idx
  // (repository name, workflow, created_at): the repository id has no index with time.
  const failedJobs = await connection.any(sql.type(failedJobRow)`
    SELECT b.workflow, j.name, j.failed_step, j.url, b.commit_sha, b.url AS run_url, fe.lines AS excerpt, fe.annotations,
      EXISTS (SELECT 1 FROM build_jobs p JOIN builds pb ON pb.id = p.build_id
              WHERE pb.repository_id = b.repository_id AND pb.commit_sha = b.commit_sha AND pb.workflow = b.workflow
                AND p.name = j.name AND p.status = 'success') AS passed_on_this_commit,
      (SELECT count(DISTINCT fb.commit_sha)::int
        FROM builds fb JOIN build_jobs fj ON fj.build_id = fb.id
        WHERE fb.repository = b.repository AND fb.repository_id = b.repository_id AND fb.workflow = b.workflow
          AND fb.created_at >= b.created_at - ${FLAKY_WINDOW} AND fb.created_at <= b.created_at
          AND fb.commit_sha <> b.commit_sha AND fj.name = j.name AND fj.status = 'failed'
          AND EXISTS (SELECT 1 FROM builds sb JOIN build_jobs sj ON sj.build_id = sb.id
                      WHERE sb.repository_id = fb.repository_id AND sb.commit_sha = fb.commit_sha
                        AND sb.workflow = fb.workflow AND sj.name = j.name AND sj.status = 'success')) AS flaky_commits
    FROM builds b JOIN build_jobs j ON j.build_id = b.id AND j.run_attempt = b.run_attempt
    LEFT JOIN failure_excerpts fe ON fe.job_id = j.id AND fe.status = 'done'
    WHERE b.id = ANY(${sql.array(workflows.map((w) => w.build_id), "int8")}) AND j.status = 'failed'
    ORDER BY b.workflow, j.name`);
  return { commit, workflows: [...workflows], failedJobs: [...failedJobs] };
}
