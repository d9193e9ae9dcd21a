import { sql, type FragmentSqlToken } from "slonik";

/**
 * A run that ran its course: it succeeded or failed. Cancelled and skipped runs count in no
 * rate and no duration figure. `run` is the alias of a row of `builds`.
 */
export function decidedRun(run: string): FragmentSqlToken {
  const r = sql.identifier([run]);
  return sql.fragment`${r}.status IN ('success', 'failed')`;
}

/**
 * A flaky run: it ended green on a later attempt after a failed job, or another run of the same
 * workflow failed on the same commit before it passed. Either way it failed without a code
 * change. `run` is the alias of a row of `builds`. Attempts start at 1, so a first attempt skips
 * the look-up of earlier attempts' jobs (most runs: one index probe each instead of two).
 */
export function flakyRun(run: string): FragmentSqlToken {
  const r = sql.identifier([run]);
  return sql.fragment`${r}.status = 'success' AND (
    (${r}.run_attempt > 1 AND EXISTS (SELECT 1 FROM build_jobs j WHERE j.build_id = ${r}.id AND j.run_attempt < ${r}.run_attempt AND j.status = 'failed'))
    OR EXISTS (SELECT 1 FROM builds o WHERE o.repository_id = ${r}.repository_id AND o.workflow = ${r}.workflow
                 AND o.commit_sha = ${r}.commit_sha AND o.id <> ${r}.id AND o.status = 'failed' AND o.created_at < ${r}.created_at)
  )`;
}
