-- Rollups kept from deltas. The triggers of 0024 updated the rollup rows of the current hour,
-- day and month in the statement that wrote a run, so every write batch of an installation queued
-- on the same rows and held them to its end, and two batches could take them in opposite orders.
-- Now a write appends what it changes to build_rollup_deltas, and the rollup worker folds the
-- deltas into build_rollups.

-- Changes to the rollups not folded into them yet: rows of build_rollups' shape whose counts
-- (negative where runs moved away) add to it, many to one row. Insert-only for writers;
-- runboard_fold_rollups moves them into build_rollups every few seconds, oldest first, and
-- readers add what is still here. Every row is deleted soon after it is written: vacuum leaves
-- the emptied pages in place rather than taking the lock that would shorten the file, which
-- writes would queue behind.
CREATE TABLE build_rollup_deltas (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  LIKE build_rollups
) WITH (vacuum_truncate = false);

-- What a statement on builds changes in the rollups: the contributions of its new rows, less
-- those of its old rows, per rollup row (once under its repository and workflow, once under ''),
-- appended to build_rollup_deltas. Rows whose counted columns did not change are left out. A
-- write never updates a rollup row itself: every batch of an installation would otherwise
-- queue on the same rows of the current hour, day and month, and hold them to its end. Hour
-- rows are written for every run; those past the hour horizon are deleted by the rollup worker
-- (db/build-rollups.ts).
CREATE OR REPLACE FUNCTION runboard_rollup_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO build_rollup_deltas (
      grain, period_start, installation_id, repository, workflow, on_default_branch, status,
      runs, timed_runs, duration_sum, buckets, bucket_runs)
    SELECT x.grain, x.period_start, x.installation_id, x.repository, x.workflow, x.on_default_branch, x.status,
           sum(x.runs)::integer, sum(x.timed_runs)::integer, coalesce(sum(x.duration_sum), 0),
           array_agg(x.bucket ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL AND x.timed_runs <> 0),
           array_agg(x.timed_runs::integer ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL AND x.timed_runs <> 0)
    FROM (
      SELECT g.grain, date_trunc(g.grain, c.hour, 'UTC') AS period_start, c.installation_id,
             CASE WHEN l.whole THEN '' ELSE c.repository END AS repository, CASE WHEN l.whole THEN '' ELSE c.workflow END AS workflow,
             c.on_default_branch, c.status, c.bucket,
             sum(c.runs) AS runs, sum(c.timed_runs) AS timed_runs, sum(c.duration_sum) AS duration_sum
      FROM (
        SELECT date_trunc('hour', n.created_at, 'UTC') AS hour, coalesce(n.installation_id, 0) AS installation_id,
               n.repository, n.workflow, n.on_default_branch, n.status,
               CASE WHEN n.duration_seconds IS NOT NULL THEN runboard_duration_bucket(n.duration_seconds) END AS bucket,
               count(*) AS runs, count(n.duration_seconds) AS timed_runs, sum(n.duration_seconds) AS duration_sum
        FROM new_rows n
        WHERE n.on_default_branch IS NOT NULL AND n.created_at IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7
      ) c
      CROSS JOIN (VALUES ('hour'), ('day'), ('month')) AS g(grain)
      CROSS JOIN (VALUES (false), (true)) AS l(whole)
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ) x
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
  ELSE
    INSERT INTO build_rollup_deltas (
      grain, period_start, installation_id, repository, workflow, on_default_branch, status,
      runs, timed_runs, duration_sum, buckets, bucket_runs)
    SELECT x.grain, x.period_start, x.installation_id, x.repository, x.workflow, x.on_default_branch, x.status,
           sum(x.runs)::integer, sum(x.timed_runs)::integer, coalesce(sum(x.duration_sum), 0),
           array_agg(x.bucket ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL AND x.timed_runs <> 0),
           array_agg(x.timed_runs::integer ORDER BY x.bucket) FILTER (WHERE x.bucket IS NOT NULL AND x.timed_runs <> 0)
    FROM (
      SELECT g.grain, date_trunc(g.grain, c.hour, 'UTC') AS period_start, c.installation_id,
             CASE WHEN l.whole THEN '' ELSE c.repository END AS repository, CASE WHEN l.whole THEN '' ELSE c.workflow END AS workflow,
             c.on_default_branch, c.status, c.bucket,
             sum(c.runs) AS runs, sum(c.timed_runs) AS timed_runs, sum(c.duration_sum) AS duration_sum
      FROM (
        SELECT date_trunc('hour', d.created_at, 'UTC') AS hour, coalesce(d.installation_id, 0) AS installation_id,
               d.repository, d.workflow, d.on_default_branch, d.status,
               CASE WHEN d.duration_seconds IS NOT NULL THEN runboard_duration_bucket(d.duration_seconds) END AS bucket,
               sum(d.weight) AS runs, coalesce(sum(d.weight) FILTER (WHERE d.duration_seconds IS NOT NULL), 0) AS timed_runs,
               sum(d.weight * d.duration_seconds) AS duration_sum
        FROM (
          SELECT o.created_at, o.installation_id, o.repository, o.workflow, o.on_default_branch, o.status, o.duration_seconds, -1 AS weight
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE o.on_default_branch IS NOT NULL AND o.created_at IS NOT NULL
            AND (o.created_at, o.installation_id, o.repository, o.workflow, o.on_default_branch, o.status, o.duration_seconds)
                IS DISTINCT FROM (n.created_at, n.installation_id, n.repository, n.workflow, n.on_default_branch, n.status, n.duration_seconds)
          UNION ALL
          SELECT n.created_at, n.installation_id, n.repository, n.workflow, n.on_default_branch, n.status, n.duration_seconds, 1
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE n.on_default_branch IS NOT NULL AND n.created_at IS NOT NULL
            AND (o.created_at, o.installation_id, o.repository, o.workflow, o.on_default_branch, o.status, o.duration_seconds)
                IS DISTINCT FROM (n.created_at, n.installation_id, n.repository, n.workflow, n.on_default_branch, n.status, n.duration_seconds)
        ) d
        GROUP BY 1, 2, 3, 4, 5, 6, 7
      ) c
      CROSS JOIN (VALUES ('hour'), ('day'), ('month')) AS g(grain)
      CROSS JOIN (VALUES (false), (true)) AS l(whole)
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ) x
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
  END IF;
  RETURN NULL;
END
$$;


-- Moves up to p_limit deltas, oldest first, into build_rollups in one statement (readers see the
-- change either before it or after it, never half), summed per rollup row and written in key
-- order. Deltas another fold holds are passed over, so folds on two replicas take different
-- deltas and cannot deadlock; deltas written meanwhile wait for the next fold. Returns the deltas
-- folded: p_limit means there may be more.
CREATE FUNCTION runboard_fold_rollups(p_limit integer) RETURNS integer LANGUAGE sql AS $$
  WITH folded AS (
    DELETE FROM build_rollup_deltas
    WHERE id IN (SELECT id FROM build_rollup_deltas ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING *
  ), sums AS (
    SELECT grain, period_start, installation_id, repository, workflow, on_default_branch, status,
           sum(runs)::integer AS runs, sum(timed_runs)::integer AS timed_runs, sum(duration_sum) AS duration_sum
    FROM folded
    GROUP BY 1, 2, 3, 4, 5, 6, 7
  ), histograms AS (
    SELECT grain, period_start, installation_id, repository, workflow, on_default_branch, status,
           array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS bucket_runs
    FROM (
      SELECT f.grain, f.period_start, f.installation_id, f.repository, f.workflow, f.on_default_branch, f.status,
             u.bucket, sum(u.n)::integer AS n
      FROM folded f CROSS JOIN LATERAL unnest(f.buckets, f.bucket_runs) AS u(bucket, n)
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
      HAVING sum(u.n) <> 0
    ) b
    GROUP BY 1, 2, 3, 4, 5, 6, 7
  ), written AS (
    INSERT INTO build_rollups AS r (
      grain, period_start, installation_id, repository, workflow, on_default_branch, status,
      runs, timed_runs, duration_sum, buckets, bucket_runs)
    SELECT s.grain, s.period_start, s.installation_id, s.repository, s.workflow, s.on_default_branch, s.status,
           s.runs, s.timed_runs, s.duration_sum, h.buckets, h.bucket_runs
    FROM sums s
    LEFT JOIN histograms h USING (grain, period_start, installation_id, repository, workflow, on_default_branch, status)
    ORDER BY s.grain, s.period_start, s.installation_id, s.repository, s.workflow, s.on_default_branch, s.status
    ON CONFLICT (grain, period_start, installation_id, repository, workflow, on_default_branch, status) DO UPDATE SET
      runs = r.runs + EXCLUDED.runs,
      timed_runs = r.timed_runs + EXCLUDED.timed_runs,
      duration_sum = r.duration_sum + EXCLUDED.duration_sum,
      (buckets, bucket_runs) = (
        SELECT array_agg(m.bucket ORDER BY m.bucket), array_agg(m.n ORDER BY m.bucket)
        FROM (SELECT u.bucket, sum(u.n)::integer AS n
              FROM unnest(coalesce(r.buckets, '{}') || coalesce(EXCLUDED.buckets, '{}'),
                          coalesce(r.bucket_runs, '{}') || coalesce(EXCLUDED.bucket_runs, '{}')) AS u(bucket, n)
              GROUP BY u.bucket HAVING sum(u.n) <> 0) m)
  )
  SELECT count(*)::integer FROM folded
$$;
