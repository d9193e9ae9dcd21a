import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { inScope, type InstallationScope } from "./values.js";

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
 * "Broken now": each (repository, workflow, branch) whose latest decided run failed, from the
 * branch states that ingest keeps (the same ones alerts follow), with when the failure streak
 * began. Reads only failing branches, so it does not grow with history; a branch whose last
 * run is older than `days` days is left out.
 */
export async function getBrokenBranches(
  connection: CommonQueryMethods,
  options: { now: Date; days?: number; limit?: number; installations?: InstallationScope },
): Promise<BrokenBranch[]> {
  const rows = await connection.any(sql.type(brokenRow)`
    SELECT b.id AS build_id, b.repository, b.workflow, s.branch, s.failing_since AS red_since, s.failed_runs
    FROM branch_states s JOIN builds b ON b.id = s.last_build_id
    WHERE s.state = 'failing' AND s.failing_since IS NOT NULL AND ${inScope(sql.fragment`b.installation_id`, options.installations)}
      AND b.finished_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days ?? 30})
    ORDER BY s.failing_since
    LIMIT ${options.limit ?? 20}`);
  return [...rows];
}
