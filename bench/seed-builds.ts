/**
 * The dashboard benchmark's builds, written in bulk: per batch, one INSERT ... SELECT
 * generate_series with the triggers on builds off (the default-branch mark set in the INSERT),
 * then the batch's rollups added in one aggregate, as the triggers would add them, without the
 * hour rows past the horizon that the rollup worker would delete. `seededRun` is the same run as
 * the record normalize would make: test/db/bench-seed.test.ts writes it through the write
 * function to prove the two give the same rows and rollups.
 */
import { createHash } from "node:crypto";
import { sql, type DatabasePool } from "slonik";
import { GITHUB_ACTIONS_PROVIDER_ID, type BuildRecord } from "../src/domain/normalize.js";
import { HOUR_HORIZON_DAYS } from "../src/domain/rollup-window.js";
import { statusRank, type Status } from "../src/domain/status.js";

export const REPOSITORIES = 50;
export const WORKFLOWS = ["CI", "Deploy", "Lint", "Nightly", "Release"] as const;
const YEAR_SECONDS = 365 * 86_400;

/** The repositories' default branch, as the poller stores it: "main". */
export async function seedRepositories(pool: DatabasePool): Promise<void> {
  await pool.query(sql.unsafe`
    INSERT INTO sync_repositories (repository_id, installation_id, full_name, default_branch)
    SELECT r, 1, 'acme/repo-' || r, 'main' FROM generate_series(1, ${REPOSITORIES}) AS r
    ON CONFLICT (repository_id) DO NOTHING`);
}

/**
 * Builds `from`..`to` of `total`: a year of history up to `now` (whole seconds), newest last;
 * 50 repositories of 5 workflows each, three quarters on main; ~80% green, the last 20 running.
 */
export async function seedBuilds(
  pool: DatabasePool,
  options: { from: number; to: number; total: number; now: Date; /** false: builds alone, for reads that never touch the rollups. */ rollups?: boolean },
): Promise<void> {
  const now = new Date(Math.floor(options.now.getTime() / 1000) * 1000);
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SET LOCAL statement_timeout = 0`);
    await tx.query(sql.unsafe`ALTER TABLE builds DISABLE TRIGGER USER`);
    await tx.query(sql.unsafe`
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
      workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
      commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload,
      on_default_branch
    )
    SELECT 1, 1, r, 'acme/repo-' || r, i, 1, i, w, (${sql.array([...WORKFLOWS], "text")}::text[])[w],
           s, CASE s WHEN 'queued' THEN 1 WHEN 'running' THEN 2 ELSE 3 END,
           CASE WHEN s IN ('queued', 'running') THEN 'in_progress' ELSE 'completed' END,
           CASE s WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failure' WHEN 'cancelled' THEN 'cancelled'
                  WHEN 'skipped' THEN 'skipped' END,
           CASE WHEN i % 4 = 0 THEN 'feature/' || (i % 97) ELSE 'main' END,
           md5(i::text) || left(md5((i + 1)::text), 8), 'Change ' || i, 'dev' || (i % 40), 'push',
           'https://github.com/acme/repo-' || r || '/actions/runs/' || i,
           t, t + d, t, CASE WHEN s IN ('queued', 'running') THEN NULL ELSE t + d END, '{}'::jsonb,
           i % 4 <> 0
    FROM (
      SELECT i, (i % ${REPOSITORIES}) + 1 AS r, ((i / ${REPOSITORIES}) % 5) + 1 AS w,
             ${sql.timestamp(now)} - make_interval(secs => ((${options.total}::bigint - i) * ${YEAR_SECONDS}) / ${options.total}::bigint) AS t,
             make_interval(secs => 60 + (i * 7919) % 900) AS d,
             CASE WHEN i > ${options.total} - 20 THEN 'running'
                  WHEN (i * 2654435761) % 1000 < 800 THEN 'success'
                  WHEN (i * 2654435761) % 1000 < 930 THEN 'failed'
                  WHEN (i * 2654435761) % 1000 < 970 THEN 'cancelled'
                  ELSE 'skipped' END AS s
      FROM generate_series(${options.from}::bigint, ${options.to}::bigint) AS i
    ) seeded`);
    // Only the INSERT above skips the triggers; the rows they would add are written below.
    await tx.query(sql.unsafe`ALTER TABLE builds ENABLE TRIGGER USER`);
    // The running builds, as migrations/0030_unfinished_builds.sql's trigger keeps them.
    await tx.query(sql.unsafe`
      INSERT INTO unfinished_builds (build_id, status)
      SELECT id, status FROM builds
      WHERE provider_id = 1 AND repository_id BETWEEN 1 AND ${REPOSITORIES}
        AND external_id BETWEEN ${options.from} AND ${options.to} AND status IN ('queued', 'running')`);
    if (options.rollups === false) return;
    // What the rollup triggers add for these rows, once folded (migrations/0024_build_rollups.sql,
    // 0025_rollup_deltas.sql), in one pass.
    await tx.query(sql.unsafe`
    INSERT INTO build_rollups AS r (
      grain, period_start, installation_id, repository, workflow, on_default_branch, status,
      runs, timed_runs, duration_sum, buckets, bucket_runs)
    SELECT x.grain, x.period_start, x.installation_id, x.repository, x.workflow, x.on_default_branch, x.status,
           sum(x.runs)::integer, sum(x.timed_runs)::integer, coalesce(sum(x.duration_sum), 0),
           array_agg(x.bucket ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL),
           array_agg(x.timed_runs::integer ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL)
    FROM (
      SELECT g.grain, date_trunc(g.grain, c.hour, 'UTC') AS period_start, c.installation_id,
             CASE WHEN l.whole THEN '' ELSE c.repository END AS repository, CASE WHEN l.whole THEN '' ELSE c.workflow END AS workflow,
             c.on_default_branch, c.status, c.bucket,
             sum(c.runs) AS runs, sum(c.timed_runs) AS timed_runs, sum(c.duration_sum) AS duration_sum
      FROM (
        SELECT date_trunc('hour', b.created_at, 'UTC') AS hour, coalesce(b.installation_id, 0) AS installation_id,
               b.repository, b.workflow, b.on_default_branch, b.status,
               CASE WHEN b.duration_seconds IS NOT NULL THEN runboard_duration_bucket(b.duration_seconds) END AS bucket,
               count(*) AS runs, count(b.duration_seconds) AS timed_runs, sum(b.duration_seconds) AS duration_sum
        FROM builds b
        WHERE b.provider_id = 1 AND b.repository_id BETWEEN 1 AND ${REPOSITORIES}
          AND b.external_id BETWEEN ${options.from} AND ${options.to}
        GROUP BY 1, 2, 3, 4, 5, 6, 7
      ) c
      CROSS JOIN (VALUES ('hour'), ('day'), ('month')) AS g(grain)
      CROSS JOIN (VALUES (false), (true)) AS l(whole)
      WHERE g.grain <> 'hour' OR c.hour >= ${sql.timestamp(now)} - make_interval(days => ${HOUR_HORIZON_DAYS + 2})
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ) x
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (grain, period_start, installation_id, repository, workflow, on_default_branch, status) DO UPDATE SET
      runs = r.runs + EXCLUDED.runs,
      timed_runs = r.timed_runs + EXCLUDED.timed_runs,
      duration_sum = r.duration_sum + EXCLUDED.duration_sum,
      (buckets, bucket_runs) = (
        SELECT array_agg(m.bucket ORDER BY m.bucket), array_agg(m.n ORDER BY m.bucket)
        FROM (SELECT u.bucket, sum(u.n)::integer AS n
              FROM unnest(coalesce(r.buckets, '{}') || coalesce(EXCLUDED.buckets, '{}'),
                          coalesce(r.bucket_runs, '{}') || coalesce(EXCLUDED.bucket_runs, '{}')) AS u(bucket, n)
              GROUP BY u.bucket HAVING sum(u.n) <> 0) m)`);
  });
}

/** Run `i` of `total` as seedBuilds writes it, as a record for the write function. */
export function seededRun(i: number, options: { total: number; now: Date }): BuildRecord {
  const now = Math.floor(options.now.getTime() / 1000) * 1000;
  const r = (i % REPOSITORIES) + 1;
  const w = (Math.floor(i / REPOSITORIES) % 5) + 1;
  const t = now - Math.floor(((options.total - i) * YEAR_SECONDS) / options.total) * 1000;
  const d = (60 + ((i * 7919) % 900)) * 1000;
  const hash = Number((BigInt(i) * 2654435761n) % 1000n);
  const status: Status =
    i > options.total - 20 ? "running" : hash < 800 ? "success" : hash < 930 ? "failed" : hash < 970 ? "cancelled" : "skipped";
  const finished = status !== "running";
  const md5 = (text: string) => createHash("md5").update(text).digest("hex");
  return {
    providerId: GITHUB_ACTIONS_PROVIDER_ID,
    installationId: 1,
    repositoryId: r,
    repository: `acme/repo-${r}`,
    defaultBranch: "main",
    externalId: i,
    runAttempt: 1,
    runNumber: i,
    workflowId: w,
    workflow: WORKFLOWS[w - 1]!,
    status,
    statusRank: statusRank(status),
    rawStatus: finished ? "completed" : "in_progress",
    conclusion: { success: "success", failed: "failure", cancelled: "cancelled", skipped: "skipped" }[status as string] ?? null,
    branch: i % 4 === 0 ? `feature/${i % 97}` : "main",
    commitSha: md5(String(i)) + md5(String(i + 1)).slice(0, 8),
    commitMessage: `Change ${i}`,
    triggeredBy: `dev${i % 40}`,
    event: "push",
    url: `https://github.com/acme/repo-${r}/actions/runs/${i}`,
    createdAt: new Date(t),
    updatedAt: new Date(t + d),
    startedAt: new Date(t),
    finishedAt: finished ? new Date(t + d) : null,
    payload: {},
  };
}
