import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

const brokenRow = z.object({
  build_id: z.number(),
  repository: z.string(),
  workflow: z.string(),
  branch: z.string(),
  red_since: z.date(),
  failed_runs: z.number(),
});
export type BrokenBranch = z.infer<typeof brokenRow>;

/**
 * "Broken now": each (repository, workflow, branch) whose latest decided run (success or
 * failed) in the last `days` days failed, with the finish time of the first failure since its
 * last success. Bounded by the window, so it does not grow with history.
 */
export async function getBrokenBranches(
  connection: CommonQueryMethods,
  options: { now: Date; days?: number; limit?: number },
): Promise<BrokenBranch[]> {
  const rows = await connection.any(sql.type(brokenRow)`
    WITH decided AS (
      SELECT b.id, b.repository_id, b.repository, coalesce(b.workflow_id::text, b.workflow) AS workflow_key, b.workflow,
             b.branch, b.status, b.finished_at, b.created_at
      FROM builds b
      WHERE b.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days ?? 30})
        AND b.status IN ('success', 'failed') AND b.branch IS NOT NULL
    ), latest AS (
      SELECT DISTINCT ON (repository_id, workflow_key, branch) *
      FROM decided
      ORDER BY repository_id, workflow_key, branch, created_at DESC, id DESC
    )
    SELECT l.id AS build_id, l.repository, l.workflow, l.branch,
           min(d.finished_at) AS red_since, count(d.id)::int AS failed_runs
    FROM latest l
    JOIN decided d ON d.repository_id = l.repository_id AND d.workflow_key = l.workflow_key AND d.branch = l.branch
      AND d.status = 'failed'
      AND d.created_at > coalesce((
        SELECT max(s.created_at) FROM decided s
        WHERE s.repository_id = l.repository_id AND s.workflow_key = l.workflow_key AND s.branch = l.branch
          AND s.status = 'success'), '-infinity')
    WHERE l.status = 'failed'
    GROUP BY l.id, l.repository, l.workflow, l.branch
    ORDER BY red_since
    LIMIT ${options.limit ?? 20}`);
  return [...rows];
}
