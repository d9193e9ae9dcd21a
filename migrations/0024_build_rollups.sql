-- Rollups of builds: what the dashboard's counts, durations and percentiles read, instead of
-- every run of a window. Kept by triggers on builds, so every writer (the write function, the
-- history import, the backfill below) keeps them without knowing of them.

-- Whether a run is on its repository's default branch, decided when the run (or its branch) is
-- written: the branch the poller stored for the repository, else the one the run's own payload
-- names. Kept on the row so that a run leaves its rollup exactly where it entered it, whatever
-- the repository's default branch or the row's payload later become. A run whose payload was
-- dropped by retention falls back to the default branch kept beside it. NULL: a row written
-- before the rollups, not counted in them yet (the backfill counts it).
ALTER TABLE builds ADD COLUMN on_default_branch boolean;

CREATE FUNCTION runboard_on_default_branch(p_repository_id bigint, p_branch text, p_payload jsonb, p_kept_default text)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(p_branch = coalesce(
    (SELECT s.default_branch FROM sync_repositories s WHERE s.repository_id = p_repository_id),
    p_payload -> 'repository' ->> 'default_branch', p_kept_default), false)
$$;

-- The same rule as runboard_on_default_branch, written out: a plan PL/pgSQL keeps, per row written.
CREATE FUNCTION runboard_mark_default_branch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_default text;
BEGIN
  SELECT s.default_branch INTO v_default FROM sync_repositories s WHERE s.repository_id = NEW.repository_id;
  NEW.on_default_branch := coalesce(NEW.branch = coalesce(v_default, NEW.payload -> 'repository' ->> 'default_branch', NEW.repository_default_branch), false);
  RETURN NEW;
END
$$;

-- Only writes that name the branch decide it (the write function names it in every write); an
-- update of other columns (a payload dropped, the backfill) keeps it.
CREATE TRIGGER builds_default_branch
  BEFORE INSERT OR UPDATE OF branch ON builds
  FOR EACH ROW EXECUTE FUNCTION runboard_mark_default_branch();

-- Durations in fixed log-spaced buckets: bucket 0 holds durations under a second (GitHub's times
-- are whole seconds, so only 0), bucket k >= 1 holds [1.04^(k-1), 1.04^k) seconds, up to bucket
-- 381 (35 days and beyond). domain/duration-histogram.ts reads them back; the two must agree.
CREATE FUNCTION runboard_duration_bucket(seconds double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN seconds < 1 THEN 0 ELSE least(381, 1 + floor(ln(seconds) / ln(1.04))::integer) END
$$;

-- One row per period (an hour, a UTC day, a UTC month), installation (0: none named),
-- repository, workflow, default branch or not, and status: the runs created in the period that
-- are in that state now. A run counts once, in its latest state: a change moves it. Rows with
-- repository and workflow '' count every repository of the installation, for the figures that
-- name none (a repository's full name is never empty).
CREATE TABLE build_rollups (
  grain text NOT NULL CHECK (grain IN ('hour', 'day', 'month')),
  period_start timestamptz NOT NULL,
  installation_id bigint NOT NULL,
  repository text NOT NULL,
  workflow text NOT NULL,
  on_default_branch boolean NOT NULL,
  status text NOT NULL,
  runs integer NOT NULL,
  -- Runs with a duration, the sum of their durations, and their histogram: the buckets used
  -- (ascending) and the runs in each. Sparse: a row of a few runs holds a few pairs.
  timed_runs integer NOT NULL,
  duration_sum double precision NOT NULL,
  buckets integer[],
  bucket_runs integer[],
  PRIMARY KEY (grain, period_start, installation_id, repository, workflow, on_default_branch, status)
) WITH (fillfactor = 80);

CREATE INDEX build_rollups_workflow_idx ON build_rollups (repository, workflow, grain, period_start);
CREATE INDEX build_rollups_whole_idx ON build_rollups (grain, period_start) WHERE repository = '';

-- Adds the contributions of the statement's new rows and takes away those of its old rows, per
-- rollup row (once under its repository and workflow, once under ''), in one order: two batches
-- meet on rows in the same order, so they cannot deadlock. Rows whose counted columns did not
-- change are left out. Hour rows are written for every run; those past the hour horizon are
-- deleted by the rollup worker (db/build-rollups.ts).
CREATE FUNCTION runboard_rollup_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO build_rollups AS r (
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
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (grain, period_start, installation_id, repository, workflow, on_default_branch, status) DO UPDATE SET
      runs = r.runs + EXCLUDED.runs,
      timed_runs = r.timed_runs + EXCLUDED.timed_runs,
      duration_sum = r.duration_sum + EXCLUDED.duration_sum,
      (buckets, bucket_runs) = (
        SELECT array_agg(m.bucket ORDER BY m.bucket), array_agg(m.n ORDER BY m.bucket)
        FROM (SELECT u.bucket, sum(u.n)::integer AS n
              FROM unnest(coalesce(r.buckets, '{}') || coalesce(EXCLUDED.buckets, '{}'),
                          coalesce(r.bucket_runs, '{}') || coalesce(EXCLUDED.bucket_runs, '{}')) AS u(bucket, n)
              GROUP BY u.bucket HAVING sum(u.n) <> 0) m);
  ELSE
    INSERT INTO build_rollups AS r (
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
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (grain, period_start, installation_id, repository, workflow, on_default_branch, status) DO UPDATE SET
      runs = r.runs + EXCLUDED.runs,
      timed_runs = r.timed_runs + EXCLUDED.timed_runs,
      duration_sum = r.duration_sum + EXCLUDED.duration_sum,
      (buckets, bucket_runs) = (
        SELECT array_agg(m.bucket ORDER BY m.bucket), array_agg(m.n ORDER BY m.bucket)
        FROM (SELECT u.bucket, sum(u.n)::integer AS n
              FROM unnest(coalesce(r.buckets, '{}') || coalesce(EXCLUDED.buckets, '{}'),
                          coalesce(r.bucket_runs, '{}') || coalesce(EXCLUDED.bucket_runs, '{}')) AS u(bucket, n)
              GROUP BY u.bucket HAVING sum(u.n) <> 0) m);
  END IF;
  RETURN NULL;
END
$$;

-- PostgreSQL allows transition tables only on single-event triggers: one per event.
CREATE TRIGGER builds_rollup_insert
  AFTER INSERT ON builds REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION runboard_rollup_builds();
CREATE TRIGGER builds_rollup_update
  AFTER UPDATE ON builds REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION runboard_rollup_builds();
-- A deleted run leaves its rollups as they are: builds are not deleted (retention drops
-- payloads only), and the figures of the past stay.

-- The backfill of the rows written before the rollups: in batches by id up to through_id (the
-- highest id when this migration ran; rows written after it are counted as they are written),
-- done_id the last id done. A row counts once whoever gets to it first: the backfill only
-- touches rows still NULL in on_default_branch, and a live write sets it.
CREATE TABLE rollup_backfill (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  through_id bigint NOT NULL,
  done_id bigint NOT NULL DEFAULT 0,
  finished_at timestamptz
);

INSERT INTO rollup_backfill (through_id, finished_at)
SELECT coalesce(max(id), 0), CASE WHEN max(id) IS NULL THEN now() END FROM builds;
