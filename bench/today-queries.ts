/**
 * The dashboard's figures as main read them at f341bec, before the rollups: the same SQL over the
 * builds of the window (on today's indexes, or with index scans turned off: the raw table). Only
 * the window's start is a parameter, so that they count the window the rollups count.
 */
import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

const summaryRow = z.object({
  total: z.number(),
  by_status: z.record(z.string(), z.number()).nullable(),
  avg: z.number().nullable(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
});

/** getMetricsSummary of f341bec, unfiltered or for one repository and workflow. */
export function summaryThen(connection: CommonQueryMethods, since: Date, filter: { repository?: string; workflow?: string } = {}) {
  const conditions = [sql.fragment`b.created_at >= ${sql.timestamp(since)}`];
  if (filter.repository) conditions.push(sql.fragment`b.repository = ${filter.repository}`);
  if (filter.workflow) conditions.push(sql.fragment`b.workflow = ${filter.workflow}`);
  return connection.one(sql.type(summaryRow)`
    WITH window_builds AS (
      SELECT b.status, b.duration_seconds FROM builds b WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ), counts AS (
      SELECT status, count(*)::int AS n FROM window_builds GROUP BY status
    )
    SELECT
      (SELECT coalesce(sum(n), 0)::int FROM counts) AS total,
      (SELECT jsonb_object_agg(status, n) FROM counts) AS by_status,
      avg(w.duration_seconds)::float8 AS avg,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY w.duration_seconds)::float8 AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY w.duration_seconds)::float8 AS p95
    FROM window_builds w
    WHERE w.duration_seconds IS NOT NULL AND w.status IN ('success', 'failed')`);
}

const dayRow = z.object({ day: z.string(), total: z.number(), success: z.number(), failed: z.number(), p50: z.number().nullable(), p95: z.number().nullable() });

/** getDailyTrend of f341bec. */
export function trendThen(connection: CommonQueryMethods, options: { days: number; now: Date; repository?: string; workflow?: string }) {
  const conditions = [
    sql.fragment`b.created_at >= date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => ${options.days - 1})`,
  ];
  if (options.repository) conditions.push(sql.fragment`b.repository = ${options.repository}`);
  if (options.workflow) conditions.push(sql.fragment`b.workflow = ${options.workflow}`);
  return connection.any(sql.type(dayRow)`
    WITH days AS (
      SELECT generate_series(
        (date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC') - make_interval(days => ${options.days - 1}))::date,
        (date_trunc('day', ${sql.timestamp(options.now)} AT TIME ZONE 'UTC'))::date,
        interval '1 day')::date AS day
    ), per_day AS (
      SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day,
             count(*)::int AS total,
             count(*) FILTER (WHERE b.status = 'success')::int AS success,
             count(*) FILTER (WHERE b.status = 'failed')::int AS failed,
             (percentile_cont(0.5) WITHIN GROUP (ORDER BY b.duration_seconds)
               FILTER (WHERE b.status IN ('success', 'failed')))::float8 AS p50,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY b.duration_seconds)
               FILTER (WHERE b.status IN ('success', 'failed')))::float8 AS p95
      FROM builds b
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      GROUP BY 1
    )
    SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(p.total, 0) AS total, coalesce(p.success, 0) AS success,
           coalesce(p.failed, 0) AS failed, p.p50, p.p95
    FROM days d LEFT JOIN per_day p USING (day)
    ORDER BY d.day`);
}

const periodRow = z.object({
  repository: z.string(), workflow: z.string(), runs: z.number(), success: z.number(), failed: z.number(), p95: z.number().nullable(),
  previous_success: z.number(), previous_failed: z.number(), previous_p95: z.number().nullable(), red_now: z.boolean(),
  days: z.array(z.object({ day: z.string(), success: z.number(), failed: z.number() })),
});

/** getWorkflowPeriods of f341bec: the current period from `current`, the previous from `previous`. */
export function periodsThen(connection: CommonQueryMethods, options: { current: Date; previous: Date }) {
  return connection.any(sql.type(periodRow)`
    WITH w AS (
      SELECT b.repository, b.workflow, b.status, b.duration_seconds, b.created_at,
             b.created_at >= ${sql.timestamp(options.current)} AS current
      FROM builds b
      WHERE b.created_at >= ${sql.timestamp(options.previous)}
    ), per_period AS (
      SELECT repository, workflow, current, count(*)::int AS runs,
             count(*) FILTER (WHERE status = 'success')::int AS success,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE w.status IN ('success', 'failed')))::float8 AS p95
      FROM w
      GROUP BY repository, workflow, current
    ), per_workflow AS (
      SELECT repository, workflow,
             coalesce(max(runs) FILTER (WHERE current), 0) AS runs,
             coalesce(max(success) FILTER (WHERE current), 0) AS success,
             coalesce(max(failed) FILTER (WHERE current), 0) AS failed,
             max(p95) FILTER (WHERE current) AS p95,
             coalesce(max(success) FILTER (WHERE NOT current), 0) AS previous_success,
             coalesce(max(failed) FILTER (WHERE NOT current), 0) AS previous_failed,
             max(p95) FILTER (WHERE NOT current) AS previous_p95
      FROM per_period
      GROUP BY repository, workflow
      HAVING bool_or(current)
    ), red AS (
      SELECT DISTINCT b.repository, b.workflow
      FROM branch_states s JOIN builds b ON b.id = s.last_build_id
      LEFT JOIN sync_repositories r ON r.repository_id = s.repository_id
      WHERE s.state = 'failing'
        AND s.branch = coalesce(r.default_branch, b.payload -> 'repository' ->> 'default_branch')
    ), per_day AS (
      SELECT repository, workflow, jsonb_agg(jsonb_build_object('day', day, 'success', success, 'failed', failed) ORDER BY day) AS days
      FROM (
        SELECT repository, workflow, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               count(*) FILTER (WHERE status = 'success')::int AS success,
               count(*) FILTER (WHERE status = 'failed')::int AS failed
        FROM w WHERE w.status IN ('success', 'failed')
        GROUP BY 1, 2, 3
      ) d
      GROUP BY repository, workflow
    )
    SELECT p.*, red.workflow IS NOT NULL AS red_now, coalesce(d.days, '[]'::jsonb) AS days
    FROM per_workflow p
    LEFT JOIN red USING (repository, workflow)
    LEFT JOIN per_day d USING (repository, workflow)
    ORDER BY p.repository, p.workflow`);
}

const statsRow = z.object({ total: z.number(), success: z.number(), failed: z.number(), flaky: z.number(), p50: z.number().nullable(), p95: z.number().nullable() });

/**
 * getWorkflowStats of f341bec (flaky runs as metric-sql.ts counts them; without them, `flaky` is
 * 0: over the raw table each passed run's look-up is a scan of its own).
 */
export function workflowStatsThen(connection: CommonQueryMethods, options: { repository: string; workflow: string; since: Date; flaky: boolean }) {
  const flaky = options.flaky
    ? sql.fragment`count(*) FILTER (WHERE w.status = 'success' AND (
             EXISTS (SELECT 1 FROM build_jobs j WHERE j.build_id = w.id AND j.run_attempt < w.run_attempt AND j.status = 'failed')
             OR EXISTS (SELECT 1 FROM builds o WHERE o.repository_id = w.repository_id AND o.workflow = w.workflow
                          AND o.commit_sha = w.commit_sha AND o.id <> w.id AND o.status = 'failed' AND o.created_at < w.created_at)))::int`
    : sql.fragment`0`;
  return connection.one(sql.type(statsRow)`
    WITH w AS (
      SELECT b.* FROM builds b
      WHERE b.repository = ${options.repository} AND b.workflow = ${options.workflow}
        AND b.created_at >= ${sql.timestamp(options.since)}
    )
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE status = 'success')::int AS success,
           count(*) FILTER (WHERE status = 'failed')::int AS failed,
           ${flaky} AS flaky,
           (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE w.status IN ('success', 'failed')))::float8 AS p50,
           (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) FILTER (WHERE w.status IN ('success', 'failed')))::float8 AS p95
    FROM w`);
}
