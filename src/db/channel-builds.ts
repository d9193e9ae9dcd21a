import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { flakyRate } from "../domain/flaky-rate.js";
import { buildSchema, type Build } from "./builds.js";
import { decidedRun, flakyRun } from "./metric-sql.js";

/** Every repository that has builds, by name. */
export async function listRepositoryNames(connection: CommonQueryMethods): Promise<string[]> {
  const rows = await connection.anyFirst(sql.type(z.object({ repository: z.string() }))`
    SELECT DISTINCT repository FROM builds ORDER BY repository`);
  return [...rows];
}

/**
 * The newest builds of some repositories (null: all), for `/builds`.
 * @param filters.failedOnly only runs that failed.
 */
export async function listChannelBuilds(
  connection: CommonQueryMethods,
  filters: { repositories: readonly string[] | null; branch: string | null; failedOnly: boolean; limit: number },
): Promise<Build[]> {
  const conditions = [sql.fragment`TRUE`];
  if (filters.repositories) conditions.push(sql.fragment`b.repository = ANY(${sql.array([...filters.repositories], "text")})`);
  if (filters.branch) conditions.push(sql.fragment`b.branch = ${filters.branch}`);
  if (filters.failedOnly) conditions.push(sql.fragment`b.status = 'failed'`);
  const rows = await connection.any(sql.type(buildSchema)`
    SELECT b.id, p.slug AS provider, b.external_id::text AS external_id, b.run_attempt, b.repository, b.workflow,
           b.status, b.conclusion, b.branch, b.commit_sha, b.commit_message, b.triggered_by, b.event, b.url,
           b.created_at, b.started_at, b.finished_at, b.duration_seconds
    FROM builds b JOIN providers p ON p.id = b.provider_id
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY b.created_at DESC NULLS LAST, b.id DESC
    LIMIT ${filters.limit}`);
  return [...rows];
}

const flakyRow = z.object({ repository: z.string(), workflow: z.string(), decided: z.number(), flaky: z.number() });
export type FlakyWorkflow = z.infer<typeof flakyRow> & { flaky_rate: number };

/**
 * The workflows with the highest share of flaky runs over the window (flaky as in
 * metric-sql.ts: green only after a failure of the same commit), at least one flaky run.
 */
export async function getFlakiestWorkflows(
  connection: CommonQueryMethods,
  options: { repository: string | null; days: number; now: Date; limit: number },
): Promise<FlakyWorkflow[]> {
  const rows = await connection.any(sql.type(flakyRow)`
    WITH w AS (
      SELECT b.* FROM builds b
      WHERE b.created_at >= ${sql.timestamp(options.now)} - make_interval(days => ${options.days})
        AND ${options.repository ? sql.fragment`b.repository = ${options.repository}` : sql.fragment`TRUE`}
    )
    SELECT repository, workflow,
           count(*) FILTER (WHERE ${decidedRun("w")})::int AS decided,
           count(*) FILTER (WHERE ${flakyRun("w")})::int AS flaky
    FROM w GROUP BY repository, workflow`);
  return rows
    .flatMap((row) => {
      const rate = flakyRate(row.flaky, row.decided);
      return row.flaky > 0 && rate !== null ? [{ ...row, flaky_rate: rate }] : [];
    })
    .sort((a, b) => b.flaky_rate - a.flaky_rate || b.flaky - a.flaky || a.repository.localeCompare(b.repository))
    .slice(0, options.limit);
}

const actionBuildRow = z.object({
  id: z.number(),
  installation_id: z.number().nullable(),
  repository: z.string(),
  workflow: z.string(),
  external_id: z.number(),
  run_attempt: z.number(),
  status: z.string(),
});
export type ActionBuild = z.infer<typeof actionBuildRow>;

/** What a button needs to act on a build: its GitHub run and the installation that can reach it. */
export async function findActionBuild(connection: CommonQueryMethods, id: number): Promise<ActionBuild | null> {
  return connection.maybeOne(sql.type(actionBuildRow)`
    SELECT id, installation_id, repository, workflow, external_id, run_attempt, status FROM builds WHERE id = ${id}`);
}
