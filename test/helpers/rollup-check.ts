import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { foldRollups } from "../../src/db/build-rollups.js";

const rollupRow = z.object({
  key: z.string(),
  runs: z.number(),
  timed_runs: z.number(),
  duration_sum: z.number(),
  histogram: z.record(z.string(), z.number()).nullable(),
});
type RollupRow = z.infer<typeof rollupRow>;

const KEY = sql.fragment`concat_ws('|', grain, to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24'), installation_id, repository, workflow, on_default_branch, status)`;

/**
 * Every rollup row that counts something, keyed, its histogram as {"bucket": runs} without zeros;
 * the deltas written so far are folded in first.
 */
export async function storedRollups(connection: CommonQueryMethods): Promise<Map<string, RollupRow>> {
  await foldRollups(connection);
  const rows = await connection.any(sql.type(rollupRow)`
    SELECT ${KEY} AS key, runs, timed_runs, duration_sum,
           (SELECT jsonb_object_agg(k.bucket, k.n) FROM unnest(r.buckets, r.bucket_runs) AS k(bucket, n) WHERE k.n <> 0) AS histogram
    FROM build_rollups r
    WHERE runs <> 0 OR timed_runs <> 0`);
  return new Map(rows.map((r) => [r.key, r]));
}

/** What the rollups should hold, counted from the builds rows themselves (per repository and workflow, and all at once under ''). */
export async function expectedRollups(connection: CommonQueryMethods): Promise<Map<string, RollupRow>> {
  const rows = await connection.any(sql.type(rollupRow)`
    WITH b AS (
      SELECT g.grain, date_trunc(g.grain, b.created_at, 'UTC') AS period_start, coalesce(b.installation_id, 0) AS installation_id,
             b.repository, b.workflow, b.on_default_branch, b.status, b.duration_seconds
      FROM (SELECT created_at, installation_id, on_default_branch, status, duration_seconds, repository, workflow FROM builds
            UNION ALL
            SELECT created_at, installation_id, on_default_branch, status, duration_seconds, '', '' FROM builds) b
      CROSS JOIN (VALUES ('hour'), ('day'), ('month')) AS g(grain)
      WHERE b.created_at IS NOT NULL AND b.on_default_branch IS NOT NULL
    ), counts AS (
      SELECT ${KEY} AS key, count(*)::int AS runs, count(duration_seconds)::int AS timed_runs,
             coalesce(sum(duration_seconds), 0)::float8 AS duration_sum
      FROM b GROUP BY 1
    ), buckets AS (
      SELECT key, jsonb_object_agg(bucket, n) AS histogram FROM (
        SELECT ${KEY} AS key, floor(CASE WHEN duration_seconds < 1 THEN 0
                                         ELSE least(381, 1 + floor(ln(duration_seconds) / ln(1.04))) END)::int AS bucket, count(*)::int AS n
        FROM b WHERE duration_seconds IS NOT NULL GROUP BY 1, 2) x
      GROUP BY key
    )
    SELECT c.key, c.runs, c.timed_runs, c.duration_sum, h.histogram FROM counts c LEFT JOIN buckets h USING (key)`);
  return new Map(rows.map((r) => [r.key, r]));
}

/**
 * The differences between the rollups and the builds they count, as readable lines: none when
 * every run counts once, in its latest state. Duration sums are compared to a millisecond.
 */
export async function rollupDifferences(connection: CommonQueryMethods): Promise<string[]> {
  const [stored, expected] = await Promise.all([storedRollups(connection), expectedRollups(connection)]);
  const differences: string[] = [];
  for (const key of new Set([...stored.keys(), ...expected.keys()])) {
    const s = stored.get(key);
    const e = expected.get(key);
    const same =
      s !== undefined &&
      e !== undefined &&
      s.runs === e.runs &&
      s.timed_runs === e.timed_runs &&
      Math.abs(s.duration_sum - e.duration_sum) < 0.001 &&
      JSON.stringify(sorted(s.histogram)) === JSON.stringify(sorted(e.histogram));
    if (!same) differences.push(`${key}: stored ${JSON.stringify(s ?? null)}, counted ${JSON.stringify(e ?? null)}`);
  }
  return differences.sort();
}

function sorted(histogram: Record<string, number> | null): Array<[string, number]> {
  return Object.entries(histogram ?? {}).sort((a, b) => Number(a[0]) - Number(b[0]));
}
