-- The write function no longer notifies build_changed itself: the process that wrote a batch
-- notifies the builds it changed after the write has committed (src/ingest.ts, through
-- notifyBuildsChanged in src/db/builds.ts), in a statement of its own that does not wait for its
-- commit to reach the disk.
--
-- A transaction that calls pg_notify holds PostgreSQL's one notification lock from just before
-- its commit until the commit is flushed, so two write batches committing at once (two lanes of
-- a process, or two replicas) flushed one after the other: sampled under load, write batches
-- waited on that lock (`Lock:object` on pg_database 0) in 7-11% of the samples. Otherwise the
-- function is 0023_write_lock_order.sql's, unchanged.

CREATE OR REPLACE FUNCTION runboard_write_batch(
  p_deliveries jsonb, p_runs jsonb, p_jobs jsonb, p_now timestamptz, p_context jsonb DEFAULT NULL, p_retry boolean DEFAULT false)
RETURNS TABLE (kind text, delivery_id text, job_id bigint, build_id bigint, run jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r record;
  v_unlinked bigint[] := '{}';
  -- The finished runs that decide a branch's alert state (see runboard_queue_alerts).
  v_decide jsonb := '[]';
  v_changed_jobs bigint[] := '{}';
BEGIN
  -- A batch that would wait on a lock longer than this fails fast (SQLSTATE 55P03) and is
  -- retried whole by the caller: no held row can stall every later webhook. Local to the
  -- transaction, so it also bounds the branch locks and alert decisions below.
  PERFORM set_config('lock_timeout', '2s', true);
  FOR r IN
  WITH
  fresh AS (
    INSERT INTO deliveries (id, event, action)
    SELECT d.id, d.event, d.action FROM jsonb_to_recordset(p_deliveries) AS d(id text, event text, action text)
    ORDER BY d.id
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  ),
  runs AS (
    SELECT * FROM jsonb_to_recordset(p_runs) AS t(
      provider_id smallint, installation_id bigint, repository_id bigint, repository text, external_id bigint,
      run_attempt integer, run_number integer, workflow_id bigint, workflow text, status text, status_rank smallint,
      raw_status text, conclusion text, branch text, commit_sha text, commit_message text, triggered_by text,
      event text, url text, created_at timestamptz, updated_at timestamptz, started_at timestamptz,
      finished_at timestamptz, payload jsonb, default_branch text, history boolean)
  ),
  jobs AS (
    SELECT * FROM jsonb_to_recordset(p_jobs) AS t(
      id bigint, provider_id smallint, installation_id bigint, repository_id bigint, repository text, run_id bigint,
      run_attempt integer, workflow text, branch text, commit_sha text, name text, status text, status_rank smallint,
      progress smallint, raw_status text, conclusion text, runner_labels text[], runner_name text, runner_group text,
      steps jsonb, failed_step text, url text, queued_at timestamptz, started_at timestamptz, completed_at timestamptz,
      payload jsonb)
  ),
  changed AS (
    INSERT INTO builds AS b (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
      workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
      commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload
    )
    SELECT r.provider_id, r.installation_id, r.repository_id, r.repository, r.external_id, r.run_attempt, r.run_number,
           r.workflow_id, r.workflow, r.status, r.status_rank, r.raw_status, r.conclusion, r.branch, r.commit_sha,
           r.commit_message, r.triggered_by, r.event, r.url, r.created_at, r.updated_at, r.started_at, r.finished_at, r.payload
    FROM runs r
    ORDER BY r.repository_id, r.external_id
    ON CONFLICT ON CONSTRAINT builds_natural_key DO UPDATE SET
      installation_id = coalesce(EXCLUDED.installation_id, b.installation_id),
      repository = EXCLUDED.repository, run_attempt = EXCLUDED.run_attempt, run_number = EXCLUDED.run_number,
      workflow_id = EXCLUDED.workflow_id, workflow = EXCLUDED.workflow, status = EXCLUDED.status,
      status_rank = EXCLUDED.status_rank, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
      branch = EXCLUDED.branch, commit_sha = EXCLUDED.commit_sha, commit_message = EXCLUDED.commit_message,
      triggered_by = EXCLUDED.triggered_by, event = EXCLUDED.event, url = EXCLUDED.url,
      created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, started_at = EXCLUDED.started_at,
      finished_at = EXCLUDED.finished_at, payload = EXCLUDED.payload, placeholder = false, changed_at = now()
    WHERE EXCLUDED.run_attempt > b.run_attempt
       OR (EXCLUDED.run_attempt = b.run_attempt AND (
            EXCLUDED.status_rank > b.status_rank
         OR (EXCLUDED.status_rank = b.status_rank AND (b.updated_at IS NULL OR EXCLUDED.updated_at > b.updated_at))
         OR (b.placeholder AND EXCLUDED.status_rank >= b.status_rank)))
    RETURNING b.id, b.provider_id, b.external_id, (b.xmax = 0) AS inserted, b.status, b.run_attempt, b.run_number,
      b.repository_id, b.repository, b.workflow_id, b.workflow, b.branch, b.finished_at, b.installation_id, b.commit_sha
  ),
  placeholders AS (
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt,
      workflow, status, status_rank, branch, commit_sha, created_at, placeholder
    )
    SELECT DISTINCT ON (j.repository_id, j.run_id, j.provider_id)
           j.provider_id, j.installation_id, j.repository_id, j.repository, j.run_id, j.run_attempt,
           j.workflow, 'queued', 1, j.branch, j.commit_sha, j.queued_at, true
    FROM jobs j
    WHERE NOT EXISTS (
      SELECT 1 FROM runs r WHERE r.provider_id = j.provider_id AND r.repository_id = j.repository_id AND r.external_id = j.run_id)
      -- A run row already there is not tried: the insert would wait on it while another batch
      -- updates it, out of the order the runs above are locked in (two batches, each holding a
      -- run the other's job needs, would deadlock).
      AND NOT EXISTS (
        SELECT 1 FROM builds sb WHERE sb.provider_id = j.provider_id AND sb.repository_id = j.repository_id AND sb.external_id = j.run_id)
    ORDER BY j.repository_id, j.run_id, j.provider_id
    ON CONFLICT ON CONSTRAINT builds_natural_key DO NOTHING
    RETURNING id, provider_id, repository_id, external_id
  ),
  run_ids AS (
    SELECT c.id, c.provider_id, c.repository_id, c.external_id FROM changed c
    UNION ALL
    SELECT p.id, p.provider_id, p.repository_id, p.external_id FROM placeholders p
  ),
  linked AS (
    SELECT j.*, coalesce(ri.id, sb.id) AS run_row_id
    FROM jobs j
    LEFT JOIN run_ids ri ON ri.provider_id = j.provider_id AND ri.repository_id = j.repository_id AND ri.external_id = j.run_id
    LEFT JOIN builds sb ON sb.provider_id = j.provider_id AND sb.repository_id = j.repository_id AND sb.external_id = j.run_id
  ),
  jobs_changed AS (
    INSERT INTO build_jobs AS bj (
      id, build_id, run_attempt, name, status, status_rank, progress, raw_status, conclusion,
      runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
      completed_at, payload
    )
    SELECT j.id, j.run_row_id, j.run_attempt, j.name, j.status, j.status_rank, j.progress, j.raw_status,
           j.conclusion, coalesce(j.runner_labels, '{}'), j.runner_name, j.runner_group, coalesce(j.steps, '[]'),
           j.failed_step, j.url, j.queued_at, j.started_at, j.completed_at, j.payload
    FROM linked j
    WHERE j.run_row_id IS NOT NULL
    ORDER BY j.id
    ON CONFLICT (id) DO UPDATE SET
      name = EXCLUDED.name, status = EXCLUDED.status, status_rank = EXCLUDED.status_rank,
      progress = EXCLUDED.progress, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
      runner_labels = EXCLUDED.runner_labels, runner_name = EXCLUDED.runner_name,
      runner_group = EXCLUDED.runner_group, steps = EXCLUDED.steps, failed_step = EXCLUDED.failed_step,
      url = EXCLUDED.url, queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at,
      completed_at = EXCLUDED.completed_at, payload = EXCLUDED.payload, changed_at = now()
    WHERE EXCLUDED.status_rank > bj.status_rank
       OR (EXCLUDED.status_rank = bj.status_rank AND EXCLUDED.progress > bj.progress)
    RETURNING bj.id, bj.build_id
  ),
  -- Data-modifying, so written whether or not the query below reads it.
  checks AS (
    INSERT INTO check_runs AS cr (repository_id, head_sha, repository, installation_id, default_branch, status, next_attempt_at)
    SELECT DISTINCT ON (c.repository_id, c.commit_sha)
           c.repository_id, c.commit_sha, c.repository, c.installation_id, r.default_branch, 'pending', p_now
    FROM changed c
    JOIN runs r ON r.provider_id = c.provider_id AND r.repository_id = c.repository_id AND r.external_id = c.external_id
    WHERE c.status IN ('success', 'failed', 'cancelled', 'skipped') AND c.installation_id IS NOT NULL AND c.commit_sha <> ''
      -- history (imported on install) is not written back to GitHub's commits
      AND NOT coalesce(r.history, false)
    ORDER BY c.repository_id, c.commit_sha, r.default_branch NULLS LAST
    ON CONFLICT (repository_id, head_sha) DO UPDATE SET
      status = 'pending',
      attempts = 0,
      last_error = NULL,
      repository = EXCLUDED.repository,
      installation_id = EXCLUDED.installation_id,
      default_branch = coalesce(EXCLUDED.default_branch, cr.default_branch),
      -- a worker sending this row meanwhile sees the new version when it records its outcome,
      -- and makes the row due again instead of done
      version = cr.version + 1,
      -- a write already waiting keeps its turn (retries keep their backoff, a send its lease)
      next_attempt_at = CASE WHEN cr.status = 'pending' THEN cr.next_attempt_at ELSE EXCLUDED.next_attempt_at END,
      updated_at = now()
  )
  SELECT 'delivery'::text AS kind, f.id AS delivery_id, NULL::bigint AS job_id, NULL::bigint AS build_id, NULL::jsonb AS run FROM fresh f
  UNION ALL
  SELECT 'run', NULL, NULL, c.id,
         to_jsonb(c) - 'provider_id' || jsonb_build_object(
           'default_branch', (SELECT r.default_branch FROM runs r
                              WHERE r.provider_id = c.provider_id AND r.repository_id = c.repository_id AND r.external_id = c.external_id LIMIT 1),
           'history', coalesce((SELECT r.history FROM runs r
                                WHERE r.provider_id = c.provider_id AND r.repository_id = c.repository_id AND r.external_id = c.external_id LIMIT 1), false))
  FROM changed c
  UNION ALL
  SELECT 'job', NULL, jc.id, jc.build_id, NULL FROM jobs_changed jc
  UNION ALL
  SELECT 'unlinked', NULL, l.id, NULL, NULL FROM linked l WHERE l.run_row_id IS NULL
  LOOP
    IF r.kind = 'unlinked' THEN
      v_unlinked := v_unlinked || r.job_id;
    ELSE
      -- A run that passed or failed, finished, on a branch: it decides the branch's alert state.
      IF r.kind = 'run' AND r.run->>'status' IN ('success', 'failed') AND r.run->>'finished_at' IS NOT NULL
         AND coalesce(r.run->>'branch', '') <> '' THEN
        v_decide := v_decide || r.run;
      ELSIF r.kind = 'job' THEN
        v_changed_jobs := v_changed_jobs || r.job_id;
      END IF;
      kind := r.kind; delivery_id := r.delivery_id; job_id := r.job_id; build_id := r.build_id;
      run := CASE WHEN r.kind = 'run' THEN r.run - 'default_branch' - 'history' END;
      RETURN NEXT;
    END IF;
  END LOOP;
  -- A job whose run row another transaction committed after this statement began: the
  -- placeholder met that row, but the statement's snapshot cannot see it. A new statement can.
  -- Written before any branch is locked, so row locks are always taken before branch locks.
  IF cardinality(v_unlinked) > 0 THEN
    IF p_retry THEN
      RAISE EXCEPTION 'jobs % found no run row', v_unlinked;
    END IF;
    RETURN QUERY SELECT * FROM runboard_write_batch(
      '[]', '[]', (SELECT jsonb_agg(e) FROM jsonb_array_elements(p_jobs) e WHERE (e->>'id')::bigint = ANY (v_unlinked)), p_now, p_context, true);
  END IF;
  -- Without an alerting context (a write on its own, as tests make) nothing is decided or queued.
  IF p_context IS NOT NULL THEN
    IF jsonb_typeof(p_context) IS DISTINCT FROM 'object' OR jsonb_typeof(p_context->'failure_read_days') IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION 'the alerting context must be an object with failure_read_days, not %', p_context;
    END IF;
    IF jsonb_array_length(v_decide) > 0 THEN
      PERFORM runboard_queue_alerts(v_decide, p_context, p_now);
    END IF;
    -- The jobs that changed to failed: GitHub's annotations and log are read later (github/failure-reader.ts).
    IF cardinality(v_changed_jobs) > 0 THEN
      INSERT INTO failure_excerpts (job_id, build_id, repository_id, failed_at, next_attempt_at, history)
      SELECT j.id, j.build_id, b.repository_id, coalesce(j.completed_at, p_now), p_now,
             coalesce(j.completed_at < (SELECT i.created_at FROM installations i WHERE i.id = b.installation_id), false)
      FROM build_jobs j JOIN builds b ON b.id = j.build_id
      WHERE j.id = ANY (v_changed_jobs) AND j.status = 'failed'
        AND coalesce(j.completed_at, p_now) >= p_now - make_interval(days => (p_context->>'failure_read_days')::int)
      ORDER BY j.id
      ON CONFLICT (job_id) DO NOTHING;
    END IF;
  END IF;
END
$$;
