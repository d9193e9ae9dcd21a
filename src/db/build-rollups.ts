import { sql, type CommonQueryMethods, type DatabasePool, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import { HOUR_HORIZON_DAYS, type CountedWindow, type UnitRange, type WindowPlan } from "../domain/rollup-window.js";
import { inScope, type InstallationScope } from "./values.js";

// build_rollups (migrations/0024_build_rollups.sql, 0025_rollup_deltas.sql) is kept from deltas
// that triggers on builds append; this module holds what reads it in common, the fold of the deltas, the backfill of the
// rows older than the rollups and the clean-up of hour rows past the horizon. The readers of
// figures sum `countedRows` in their own modules (build-metrics.ts, build-trends.ts,
// workflow-stats.ts, digest-figures.ts).

/**
 * The condition for rows of `build_rollups` as `alias` in `ranges` (see domain/rollup-window.ts):
 * one range of the primary key per unit range, so each is an index range scan.
 */
export function inUnits(alias: string, ranges: UnitRange[]): FragmentSqlToken {
  const r = (column: string) => sql.identifier([alias, column]);
  if (ranges.length === 0) return sql.fragment`FALSE`;
  return sql.fragment`(${sql.join(
    ranges.map((u) =>
      u.to === null
        ? sql.fragment`(${r("grain")} = ${u.grain} AND ${r("period_start")} >= ${sql.timestamp(u.from)})`
        : sql.fragment`(${r("grain")} = ${u.grain} AND ${r("period_start")} >= ${sql.timestamp(u.from)} AND ${r("period_start")} < ${sql.timestamp(u.to)})`,
    ),
    sql.fragment` OR `,
  )})`;
}

/** The condition for builds `alias` created in `window`: the raw rows the same window's rollups count. */
export function createdIn(alias: string, window: CountedWindow): FragmentSqlToken {
  const b = sql.identifier([alias]);
  return window.to === null
    ? sql.fragment`${b}.created_at >= ${sql.timestamp(window.from)}`
    : sql.fragment`${b}.created_at >= ${sql.timestamp(window.from)} AND ${b}.created_at < ${sql.timestamp(window.to)}`;
}

/** What counted rows may be filtered by. A branch is not in the rollups: its rows come from the builds. */
export interface CountedFilters {
  installations?: InstallationScope;
  repository?: string | undefined;
  repositories?: readonly string[] | null | undefined;
  workflow?: string | undefined;
  branch?: string | undefined;
}

/**
 * A query of the rows that count a window (see domain/rollup-window.ts planWindow), each with
 * repository, workflow, status, day (its UTC date), runs, timed_runs, duration_sum, and the
 * histogram of durations as `buckets` and `bucket_runs`:
 * rollup rows for the window's whole hours, days and months, and builds (one row each) for the
 * parts of hours at its ends. Builds alone when the filter names a branch or when the rollups'
 * backfill is not done yet. Readers sum these rows, whatever they came from. Unless `perWorkflow`
 * (the reader groups by repository or workflow) or the filter names some, the rollup rows are
 * those of every repository at once, whose repository and workflow are ''.
 */
export function countedRows(plan: WindowPlan, filters: CountedFilters, options: { perWorkflow: boolean }): FragmentSqlToken {
  const raw = (ranges: CountedWindow[], when: FragmentSqlToken) => sql.fragment`
      SELECT x.repository, x.workflow, x.status, (x.created_at AT TIME ZONE 'UTC')::date AS day,
             1 AS runs, (x.duration_seconds IS NOT NULL)::int AS timed_runs, coalesce(x.duration_seconds, 0) AS duration_sum,
             ${oneRunHistogram("x")}
      FROM builds x
      WHERE (${sql.join(ranges.map((range) => createdIn("x", range)), sql.fragment` OR `)}) AND ${filtered(filters)}
        AND ${filters.branch ? sql.fragment`x.branch = ${filters.branch}` : sql.fragment`TRUE`} AND ${when}`;
  if (filters.branch) return raw([plan.counted], sql.fragment`TRUE`);
  // Whether the backfill is done decides which arms run (a one-time test, no round trip of its own).
  const ready = sql.fragment`(SELECT finished_at IS NOT NULL FROM rollup_backfill)`;
  const parts = [raw([plan.counted], sql.fragment`NOT ${ready}`)];
  if (plan.edges.length > 0) parts.push(raw(plan.edges, ready));
  if (plan.units.length > 0) {
    // The rollups, and the deltas not folded into them yet (they add up the same way).
    for (const table of [sql.identifier(["build_rollups"]), sql.identifier(["build_rollup_deltas"])]) {
      parts.push(sql.fragment`
      SELECT x.repository, x.workflow, x.status, (x.period_start AT TIME ZONE 'UTC')::date AS day,
             x.runs, x.timed_runs, x.duration_sum, x.buckets, x.bucket_runs
      FROM ${table} x
      WHERE ${inUnits("x", plan.units)} AND ${filtered(filters)}
        AND ${wholeRows(filters, options) ? sql.fragment`x.repository = ''` : sql.fragment`x.repository <> ''`} AND ${ready}`);
    }
  }
  return sql.fragment`${sql.join(parts, sql.fragment` UNION ALL `)}`;
}

/**
 * Whether the rows of every repository at once ('' rollup rows) answer: nothing is asked per
 * repository or workflow. Their `repository` and `workflow` are then ''.
 */
function wholeRows(filters: CountedFilters, options: { perWorkflow: boolean }): boolean {
  return !options.perWorkflow && !filters.repository && !filters.repositories && !filters.workflow;
}

function filtered(filters: CountedFilters): FragmentSqlToken {
  const conditions = [inScope(sql.fragment`x.installation_id`, filters.installations)];
  if (filters.repository) conditions.push(sql.fragment`x.repository = ${filters.repository}`);
  if (filters.repositories) conditions.push(sql.fragment`x.repository = ANY(${sql.array([...filters.repositories], "text")})`);
  if (filters.workflow) conditions.push(sql.fragment`x.workflow = ${filters.workflow}`);
  return sql.fragment`${sql.join(conditions, sql.fragment` AND `)}`;
}

/**
 * SQL for the histogram of the durations in the rows `source` (a query's name, with `buckets`
 * arrays) that `where` keeps (rows as `x`), merged by bucket: a JSON object {"bucket": runs}.
 */
export function mergedHistogram(source: string, where: FragmentSqlToken = sql.fragment`TRUE`): FragmentSqlToken {
  const s = sql.identifier([source]);
  return sql.fragment`(SELECT jsonb_object_agg(m.bucket, m.runs) FROM (
      SELECT k.bucket, sum(k.n)::int AS runs
      FROM ${s} x CROSS JOIN LATERAL unnest(x.buckets, x.bucket_runs) AS k(bucket, n)
      WHERE ${where}
      GROUP BY k.bucket) m WHERE m.runs <> 0)`;
}

/**
 * Whether every run is counted in the rollups: the backfill of the rows written before them
 * is done. Until then readers count the raw rows.
 */
export async function rollupsReady(connection: CommonQueryMethods): Promise<boolean> {
  return connection.oneFirst(sql.type(z.object({ ready: z.boolean() }))`
    SELECT finished_at IS NOT NULL AS ready FROM rollup_backfill`);
}

const progressRow = z.object({ done_id: z.number(), through_id: z.number(), finished: z.boolean() });
export type BackfillProgress = z.infer<typeof progressRow>;

/**
 * Counts the next `batch` ids of the rows written before the rollups, in a transaction of its
 * own: their default-branch mark is set (the update trigger adds them to the rollups), and the
 * progress moves on. A row a live write reached first has its mark already and is passed over,
 * so each row counts once. The progress row is locked while a batch runs, so two replicas take
 * batches in turn. Returns the progress after the batch.
 */
export async function backfillRollups(pool: DatabasePool, batch: number): Promise<BackfillProgress> {
  return pool.transaction(async (tx) => {
    const state = await tx.one(sql.type(progressRow)`
      SELECT done_id, through_id, finished_at IS NOT NULL AS finished FROM rollup_backfill FOR UPDATE`);
    if (state.finished) return state;
    const upTo = Math.min(state.through_id, state.done_id + batch);
    // The batch's rows are locked in the order the write function locks runs (0023), so a write
    // of the same runs meanwhile waits or is waited for, and never deadlocks with it.
    await tx.query(sql.unsafe`
      UPDATE builds b SET on_default_branch = runboard_on_default_branch(b.repository_id, b.branch, b.payload, b.repository_default_branch)
      FROM (
        SELECT id FROM builds
        WHERE id > ${state.done_id} AND id <= ${upTo} AND on_default_branch IS NULL
        ORDER BY repository_id, external_id
        FOR UPDATE
      ) held
      WHERE b.id = held.id AND b.on_default_branch IS NULL`);
    return tx.one(sql.type(progressRow)`
      UPDATE rollup_backfill SET done_id = ${upTo},
        finished_at = CASE WHEN ${upTo} >= through_id THEN now() END
      RETURNING done_id, through_id, finished_at IS NOT NULL AS finished`);
  });
}

/**
 * Moves up to `limit` of the deltas written since the last fold, oldest first, into the rollups
 * (runboard_fold_rollups in migrations/0025_rollup_deltas.sql); returns how many it folded, so
 * `limit` means there may be more.
 */
export async function foldRollups(connection: CommonQueryMethods, limit = 50_000): Promise<number> {
  return connection.oneFirst(sql.type(z.object({ folded: z.number() }))`SELECT runboard_fold_rollups(${limit}::integer) AS folded`);
}

/**
 * Deletes hour rows older than the hour horizon (two days of margin: a digest computed late still
 * finds its hours) and rows of past hours that count nothing any more (all their runs moved on),
 * up to `limit` rows. A row a fold holds is passed over, never waited for. Returns how many it
 * deleted.
 */
export async function pruneRollups(connection: CommonQueryMethods, now: Date, limit: number): Promise<number> {
  const result = await connection.query(sql.unsafe`
    DELETE FROM build_rollups r
    USING (
      SELECT grain, period_start, installation_id, repository, workflow, on_default_branch, status
      FROM build_rollups
      WHERE (grain = 'hour' AND period_start < ${sql.timestamp(now)} - make_interval(days => ${HOUR_HORIZON_DAYS + 2}))
         OR (runs = 0 AND timed_runs = 0 AND period_start < ${sql.timestamp(now)} - interval '1 hour')
      ORDER BY grain, period_start, installation_id, repository, workflow, on_default_branch, status
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ) old
    WHERE (r.grain, r.period_start, r.installation_id, r.repository, r.workflow, r.on_default_branch, r.status)
        = (old.grain, old.period_start, old.installation_id, old.repository, old.workflow, old.on_default_branch, old.status)`);
  return result.rowCount;
}

/**
 * The histogram of one run (builds `alias`), as the columns `buckets` and `bucket_runs` of a
 * rollup row: what lets a reader count builds with the same SQL it counts rollup rows with.
 */
function oneRunHistogram(alias: string): FragmentSqlToken {
  const b = sql.identifier([alias]);
  return sql.fragment`CASE WHEN ${b}.duration_seconds IS NOT NULL THEN ARRAY[runboard_duration_bucket(${b}.duration_seconds)] END AS buckets,
    CASE WHEN ${b}.duration_seconds IS NOT NULL THEN ARRAY[1] END AS bucket_runs`;
}
