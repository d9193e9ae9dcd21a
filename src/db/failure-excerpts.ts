import { sql, type CommonQueryMethods, type ValueExpression } from "slonik";
import { z } from "zod";
import type { Annotation } from "../domain/failure-signature.js";
import type { FailureInsight, SeenBefore } from "../domain/failure-insight.js";
import { BUILD_CHANGED_CHANNEL } from "./builds.js";
import { inScope, jsonText, text, type InstallationScope } from "./values.js";

/** The failure-excerpts outbox, one row per failed job: claims return the job's id (see db/outbox.ts). */
export const FAILURE_EXCERPTS_OUTBOX = {
  table: "failure_excerpts",
  key: z.object({ job_id: z.number() }),
  doneStatus: "done",
} as const;

/**
 * Failures older than this are not read: imported history gets its last few days only. The write
 * function queues the reads of the jobs that changed to failed (migrations/0020_alerts_in_write.sql):
 * a job is read once, and one that failed before its installation was first seen is marked history.
 */
export const FAILURE_READ_DAYS = 3;

const stepSchema = z.object({
  name: z.string(),
  status: z.string(),
  startedAt: z.string().nullable().catch(null),
  completedAt: z.string().nullable().catch(null),
});

const toRead = z.object({
  job_id: z.number(),
  build_id: z.number(),
  repository_id: z.number(),
  repository: z.string(),
  installation_id: z.number().nullable(),
  check_run_url: z.string().nullable(),
  steps: z.array(stepSchema.passthrough()).catch([]),
  failed_at: z.date().nullable(),
  head_sha: z.string().nullable(),
  commit_sha: z.string().nullable(),
  history: z.boolean(),
});
export type FailureToRead = z.infer<typeof toRead>;

/** What the reader needs of a job it claimed: where to read, and the failed step's times. */
export async function getFailureToRead(connection: CommonQueryMethods, jobId: number): Promise<FailureToRead | null> {
  return connection.maybeOne(sql.type(toRead)`
    SELECT f.job_id, f.build_id, f.repository_id, b.repository, b.installation_id, j.payload->>'check_run_url' AS check_run_url,
           j.steps, f.failed_at, j.payload->>'head_sha' AS head_sha, b.commit_sha, f.history
    FROM failure_excerpts f JOIN build_jobs j ON j.id = f.job_id JOIN builds b ON b.id = f.build_id
    WHERE f.job_id = ${jobId}`);
}

/** What a read found, as the columns to record with its outcome (redacted already). */
export function excerptColumns(read: {
  lines: string[];
  annotations: Annotation[];
  missingReason: string | null;
  signature: { line: string; signature: string } | null;
}): Record<string, ValueExpression> {
  return {
    lines: sql.array(read.lines.map((l) => text(l)!), "text"),
    annotations: sql.fragment`${jsonText(read.annotations)}::jsonb`,
    missing_reason: read.missingReason,
    signature_line: text(read.signature?.line ?? null),
    signature: text(read.signature?.signature ?? null),
  };
}

/**
 * Stores what a read found (the outbox's own columns are recorded with the outcome, by
 * db/outbox.ts) and tells live pages that the build changed.
 */
export async function saveExcerpt(connection: CommonQueryMethods, jobId: number, buildId: number, columns: Record<string, ValueExpression>): Promise<void> {
  const set = Object.entries(columns).map(([column, value]) => sql.fragment`${sql.identifier([column])} = ${value}`);
  await connection.query(sql.unsafe`
    UPDATE failure_excerpts SET ${sql.join(set, sql.fragment`, `)}, updated_at = now() WHERE job_id = ${jobId}`);
  await connection.query(sql.unsafe`SELECT pg_notify(${BUILD_CHANGED_CHANNEL}, ${String(buildId)})`);
}

/** Failed jobs of a build's current attempt whose read is still due: an alert may wait for them. */
export async function countPendingFailureReads(connection: CommonQueryMethods, buildId: number): Promise<number> {
  return connection.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM failure_excerpts f
    JOIN build_jobs j ON j.id = f.job_id JOIN builds b ON b.id = f.build_id
    WHERE f.build_id = ${buildId} AND j.run_attempt = b.run_attempt AND f.status = 'pending'`);
}

const annotationSchema = z.object({
  level: z.string(),
  message: z.string(),
  path: z.string().nullable(),
  line: z.number().nullable(),
  title: z.string().nullable(),
});

const insightRow = z.object({
  job_id: z.number(),
  status: z.string(),
  lines: z.array(z.string()),
  annotations: z.array(annotationSchema).catch([]),
  missing_reason: z.string().nullable(),
  signature_line: z.string().nullable(),
  others: z.number().nullable(),
  first_at: z.date().nullable(),
  first_build_id: z.number().nullable(),
  first_run_number: z.number().nullable(),
  branches: z.array(z.string()).nullable(),
  flaky_commits: z.number().nullable(),
});

/** "Seen before" looks this far back from the failure. */
const SEEN_WINDOW = sql.interval({ days: 14 });
/** "Likely flaky" looks this far back. */
const FLAKY_WINDOW = sql.interval({ days: 7 });

/**
 * What was read of a build's failed jobs (every attempt), by job id, with the failure's
 * history: how many other runs of the repository failed with the same signature in the 14 days
 * before, since when (the first of them) and on which branches; and on how many commits a job
 * with this signature failed and the same job passed on the same commit in the last 7 days.
 */
export async function getFailureInsights(connection: CommonQueryMethods, buildId: number): Promise<Map<number, FailureInsight>> {
  const rows = await connection.any(sql.type(insightRow)`
    SELECT f.job_id, f.status, f.lines, f.annotations, f.missing_reason, f.signature_line,
           s.others, s.first_at, s.first_build_id, s.first_run_number, s.branches, fl.flaky_commits
    FROM failure_excerpts f
    LEFT JOIN LATERAL (
      SELECT count(DISTINCT o.build_id)::int AS others, min(o.failed_at) AS first_at,
             (array_agg(o.build_id ORDER BY o.failed_at, o.job_id))[1] AS first_build_id,
             (array_agg(ob.run_number ORDER BY o.failed_at, o.job_id))[1] AS first_run_number,
             array_agg(DISTINCT ob.branch) FILTER (WHERE ob.branch IS NOT NULL) AS branches
      FROM failure_excerpts o JOIN builds ob ON ob.id = o.build_id
      WHERE o.repository_id = f.repository_id AND o.signature = f.signature AND o.build_id <> f.build_id
        AND o.failed_at >= f.failed_at - ${SEEN_WINDOW} AND o.failed_at <= f.failed_at
    ) s ON f.signature IS NOT NULL
    LEFT JOIN LATERAL (
      SELECT count(DISTINCT ob.commit_sha)::int AS flaky_commits
      FROM failure_excerpts o JOIN builds ob ON ob.id = o.build_id JOIN build_jobs oj ON oj.id = o.job_id
      WHERE o.repository_id = f.repository_id AND o.signature = f.signature
        AND o.failed_at >= f.failed_at - ${FLAKY_WINDOW} AND o.failed_at <= f.failed_at
        AND EXISTS (SELECT 1 FROM build_jobs pj JOIN builds pb ON pb.id = pj.build_id
                    WHERE pb.repository_id = ob.repository_id AND pb.commit_sha = ob.commit_sha
                      AND pb.workflow = ob.workflow AND pj.name = oj.name AND pj.status = 'success')
    ) fl ON f.signature IS NOT NULL
    WHERE f.build_id = ${buildId}`);
  return new Map(
    rows.map((row) => {
      const seenBefore: SeenBefore | null =
        row.others && row.first_at
          ? { others: row.others, firstAt: row.first_at, firstBuildId: row.first_build_id, firstRunNumber: row.first_run_number, branches: row.branches ?? [] }
          : null;
      return [
        row.job_id,
        {
          status: row.status === "pending" ? "pending" : "read",
          lines: row.lines,
          annotations: row.annotations,
          missingReason: row.missing_reason,
          errorLine: row.signature_line,
          seenBefore,
          flakyCommits: row.flaky_commits ?? 0,
        },
      ] as const;
    }),
  );
}

/**
 * The first error line of each of these builds' failed jobs (their current attempt): the line
 * the signature was made of, else the excerpt's last line; builds without one are left out.
 */
export async function getFirstErrorLines(connection: CommonQueryMethods, buildIds: number[]): Promise<Map<number, string>> {
  if (buildIds.length === 0) return new Map();
  const rows = await connection.any(sql.type(z.object({ build_id: z.number(), line: z.string() }))`
    SELECT DISTINCT ON (f.build_id) f.build_id, coalesce(f.signature_line, f.lines[array_length(f.lines, 1)]) AS line
    FROM failure_excerpts f JOIN build_jobs j ON j.id = f.job_id JOIN builds b ON b.id = f.build_id
    WHERE f.build_id = ANY(${sql.array(buildIds, "int8")}) AND j.run_attempt = b.run_attempt AND f.status = 'done'
      AND coalesce(f.signature_line, f.lines[array_length(f.lines, 1)]) IS NOT NULL
    ORDER BY f.build_id, j.started_at NULLS LAST, f.job_id`);
  return new Map(rows.map((r) => [r.build_id, r.line]));
}

/** One failure signature over a window: how often, since when, where, and its latest run. */
export const topFailureSchema = z.object({
  repository: z.string(),
  signature: z.string(),
  error_line: z.string().nullable(),
  failures: z.number().int(),
  runs: z.number().int(),
  first_seen: z.date(),
  last_seen: z.date(),
  branches: z.array(z.string()),
  workflows: z.array(z.string()),
  latest_build_id: z.number().int(),
});
export type TopFailure = z.infer<typeof topFailureSchema>;

/**
 * The failure signatures seen most in a window, per repository: failed jobs, runs, first and
 * last seen, branches and workflows, and the latest run with it (newest first among equals).
 * Jobs without a signature (generic or unread errors) are left out.
 */
export async function listTopFailures(
  connection: CommonQueryMethods,
  options: { since: Date; until?: Date; repository?: string; repositories?: readonly string[]; workflow?: string; limit: number; installations?: InstallationScope },
): Promise<TopFailure[]> {
  const conditions = [
    sql.fragment`f.signature IS NOT NULL`,
    sql.fragment`f.failed_at >= ${sql.timestamp(options.since)}`,
    inScope(sql.fragment`b.installation_id`, options.installations),
  ];
  if (options.until) conditions.push(sql.fragment`f.failed_at < ${sql.timestamp(options.until)}`);
  if (options.repository) conditions.push(sql.fragment`b.repository = ${options.repository}`);
  if (options.repositories) conditions.push(sql.fragment`b.repository = ANY(${sql.array([...options.repositories], "text")})`);
  if (options.workflow) conditions.push(sql.fragment`b.workflow = ${options.workflow}`);
  const rows = await connection.any(sql.type(topFailureSchema)`
    SELECT (array_agg(b.repository ORDER BY f.failed_at DESC))[1] AS repository,
           f.signature,
           (array_agg(f.signature_line ORDER BY f.failed_at DESC))[1] AS error_line,
           count(*)::int AS failures,
           count(DISTINCT f.build_id)::int AS runs,
           min(f.failed_at) AS first_seen,
           max(f.failed_at) AS last_seen,
           coalesce(array_agg(DISTINCT b.branch) FILTER (WHERE b.branch IS NOT NULL), '{}') AS branches,
           array_agg(DISTINCT b.workflow) AS workflows,
           (array_agg(f.build_id ORDER BY f.failed_at DESC))[1] AS latest_build_id
    FROM failure_excerpts f JOIN builds b ON b.id = f.build_id
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    GROUP BY f.repository_id, f.signature
    ORDER BY failures DESC, last_seen DESC
    LIMIT ${options.limit}`);
  return [...rows];
}
