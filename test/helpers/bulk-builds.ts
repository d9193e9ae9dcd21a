import { sql, type DatabasePool } from "slonik";

/** The rare values {@link insertBulkBuilds} gives one build in every `rareEvery`, each to other builds. */
export const RARE = { branch: "hotfix/rare", workflow: "Security audit", actor: "rare-bot", status: "queued" } as const;

/**
 * Builds `from`..`to` of a history of `total` spread over a year up to now, newest last, written
 * in one statement (the write path would take hours at a million): 50 repositories, 5 workflows,
 * mostly main, ~80% green, the last 20 running, and one build in `rareEvery` with each of
 * {@link RARE}'s values, spread evenly through the history.
 */
export async function insertBulkBuilds(pool: DatabasePool, options: { from: number; to: number; total: number; rareEvery: number }): Promise<void> {
  const { from, to, total, rareEvery } = options;
  await pool.query(sql.unsafe`
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
      workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
      commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload
    )
    SELECT 1, 1, r, 'acme/repo-' || r, i, 1, i, w, (ARRAY['CI', 'Deploy', 'Lint', 'Nightly', 'Release', ${RARE.workflow}])[w],
           s, CASE s WHEN 'queued' THEN 1 WHEN 'running' THEN 2 ELSE 3 END,
           CASE WHEN s IN ('queued', 'running') THEN s ELSE 'completed' END,
           CASE s WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failure' WHEN 'cancelled' THEN 'cancelled'
                  WHEN 'skipped' THEN 'skipped' END,
           CASE WHEN i % ${rareEvery} = 1 THEN ${RARE.branch} WHEN i % 4 = 0 THEN 'feature/' || (i % 97) ELSE 'main' END,
           md5(i::text) || left(md5((i + 1)::text), 8), 'Change ' || i,
           CASE WHEN i % ${rareEvery} = 3 THEN ${RARE.actor} ELSE 'dev' || (i % 40) END, 'push',
           'https://github.com/acme/repo-' || r || '/actions/runs/' || i,
           t, t + d, t, CASE WHEN s IN ('queued', 'running') THEN NULL ELSE t + d END, '{}'::jsonb
    FROM (
      SELECT i, (i % 50) + 1 AS r, CASE WHEN i % ${rareEvery} = 2 THEN 6 ELSE (i % 5) + 1 END AS w,
             now() - ((${total} - i)::float8 / ${total}) * interval '365 days' AS t,
             make_interval(secs => 60 + (i * 7919) % 900) AS d,
             CASE WHEN i > ${total} - 20 THEN 'running'
                  WHEN i % ${rareEvery} = 4 THEN ${RARE.status}
                  WHEN (i * 2654435761) % 1000 < 800 THEN 'success'
                  WHEN (i * 2654435761) % 1000 < 930 THEN 'failed'
                  WHEN (i * 2654435761) % 1000 < 970 THEN 'cancelled'
                  ELSE 'skipped' END AS s
      FROM generate_series(${from}::bigint, ${to}::bigint) AS i
    ) seeded`);
}
