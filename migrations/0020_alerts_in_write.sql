-- A finished run's alert is decided inside the write function: the branch's state, the routing
-- rules and the outbox rows are written by the same statement as the run, so a webhook is one
-- autocommit statement however many runs it decides. Before, the decision was made in
-- TypeScript between the write and a COMMIT, a transaction of four round trips.
--
-- The policy and the routing are those of src/domain/alert-policy.ts (decideAlert) and
-- src/domain/alert-rules.ts (routeAlert, matches): test/domain/rules-in-sql.test.ts holds the
-- two to the same answers. The failed jobs' reads (src/db/failure-excerpts.ts) are queued here too.

-- A glob where `*` is any run of characters and everything else is literal, as `matches` reads it.
CREATE FUNCTION runboard_glob_matches(p_pattern text, p_value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_value LIKE replace(replace(replace(replace(p_pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%') COLLATE "C"
$$;

-- A time as JavaScript's toISOString writes it (milliseconds, UTC).
CREATE FUNCTION runboard_iso_time(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- decideAlert: what one finished run does to its branch's state, and the alert it raises.
-- next_state is null when the run changes nothing (not passed or failed, or older than the last
-- run decided); alert_kind is null when the state moves silently.
CREATE FUNCTION runboard_decide_alert(
  p_state text, p_failing_since timestamptz, p_failed_runs integer, p_broken_build_id bigint, p_last_run_number integer,
  p_build_id bigint, p_status text, p_run_number integer, p_finished_at timestamptz,
  OUT next_state text, OUT next_failing_since timestamptz, OUT next_failed_runs integer,
  OUT next_broken_build_id bigint, OUT next_last_run_number integer,
  OUT alert_kind text, OUT alert_failed_runs integer, OUT alert_broken_build_id bigint, OUT time_to_green_seconds bigint)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_status IS DISTINCT FROM 'success' AND p_status IS DISTINCT FROM 'failed' THEN
    RETURN;
  END IF;
  IF p_last_run_number IS NOT NULL AND p_run_number IS NOT NULL AND p_run_number < p_last_run_number THEN
    RETURN;
  END IF;
  next_last_run_number := coalesce(p_run_number, p_last_run_number);
  IF p_status = 'failed' THEN
    IF p_state IS DISTINCT FROM 'failing' THEN
      next_state := 'failing'; next_failing_since := p_finished_at; next_failed_runs := 1; next_broken_build_id := p_build_id;
      alert_kind := 'broken';
    ELSE
      next_state := 'failing'; next_failing_since := p_failing_since; next_failed_runs := p_failed_runs + 1;
      next_broken_build_id := p_broken_build_id;
      alert_kind := 'still_failing'; alert_failed_runs := next_failed_runs; alert_broken_build_id := p_broken_build_id;
    END IF;
    RETURN;
  END IF;
  next_state := 'passing'; next_failing_since := NULL; next_failed_runs := 0; next_broken_build_id := NULL;
  IF p_state = 'failing' THEN
    alert_kind := 'fixed'; alert_failed_runs := p_failed_runs; alert_broken_build_id := p_broken_build_id;
    time_to_green_seconds := greatest(0, round(extract(epoch FROM p_finished_at - coalesce(p_failing_since, p_finished_at))));
  END IF;
END
$$;

-- routeAlert: where one branch's alerts go under the rules (alert_settings) and the environment's
-- defaults. watched is false when the rules leave the branch or the workflow out.
CREATE FUNCTION runboard_route_alert(
  p_rules jsonb, p_repository text, p_workflow text, p_branch text, p_default_branch text,
  p_email text[], p_slack_channel text, p_now timestamptz,
  OUT watched boolean, OUT muted_until timestamptz, OUT email text[], OUT slack_channel text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_route jsonb;
BEGIN
  watched :=
    CASE WHEN jsonb_array_length(coalesce(p_rules->'branches', '[]')) = 0 THEN
      CASE WHEN coalesce(p_default_branch, '') <> '' THEN p_branch = p_default_branch ELSE p_branch IN ('main', 'master') END
    ELSE EXISTS (SELECT 1 FROM jsonb_array_elements_text(p_rules->'branches') p WHERE runboard_glob_matches(p, p_branch))
    END
    AND (jsonb_array_length(coalesce(p_rules->'workflows', '[]')) = 0
         OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(p_rules->'workflows') p WHERE runboard_glob_matches(p, p_workflow)));
  -- The first route whose repository pattern matches.
  SELECT e INTO v_route FROM jsonb_array_elements(coalesce(p_rules->'routes', '[]')) WITH ORDINALITY AS x(e, n)
  WHERE runboard_glob_matches(e->>'repository', p_repository) ORDER BY n LIMIT 1;
  SELECT max(date_trunc('milliseconds', (m->>'until')::timestamptz)) INTO muted_until
  FROM jsonb_array_elements(coalesce(p_rules->'mutes', '[]')) m
  WHERE date_trunc('milliseconds', (m->>'until')::timestamptz) > p_now
    AND runboard_glob_matches(m->>'repository', p_repository)
    AND (coalesce(m->>'workflow', '') = '' OR runboard_glob_matches(m->>'workflow', p_workflow))
    AND (coalesce(m->>'branch', '') = '' OR runboard_glob_matches(m->>'branch', p_branch));
  email := CASE WHEN jsonb_typeof(v_route->'email') = 'array'
    THEN ARRAY(SELECT jsonb_array_elements_text(v_route->'email')) ELSE p_email END;
  slack_channel := coalesce(v_route->>'slack_channel', p_slack_channel);
END
$$;

-- The alert decision for the finished runs of a batch (src/alerts/queue-alerts.ts tells what
-- p_context holds), called by runboard_write_batch. It locks every branch the runs decide first;
-- then each run reads its branch's state by a statement of its own (its snapshot comes after every
-- lock is held), so two runs of one branch in a batch see each other's decision. Every branch's state is kept (it is also the dashboard's
-- "broken now"); history (imported on install) moves it silently. For a branch and workflow the
-- rules watch, one outbox row per channel: "still failing" goes to Slack only (a thread reply
-- under the "broken" message), and a channel that is off or muted gets a skipped row that says why.
CREATE FUNCTION runboard_queue_alerts(p_runs jsonb, p_context jsonb, p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r record;
  s record;
  d record;
  v_route record;
  v_rules jsonb;
  v_channel text;
  v_target text[];
  v_off text;
  v_muted text;
  v_details jsonb;
  v_parent bigint;
BEGIN
  -- A transaction-level advisory lock per branch (two runs of one branch finishing at once on two
  -- replicas are decided one after the other), taken in one order so two batches cannot deadlock.
  PERFORM pg_advisory_xact_lock(hashtextextended(k.key, 0))
  FROM (
    SELECT DISTINCT (t.repository_id::text || chr(1) || coalesce(t.workflow_id::text, 'name:' || t.workflow) || chr(1) || t.branch) COLLATE "C" AS key
    FROM jsonb_to_recordset(p_runs) AS t(repository_id bigint, workflow_id bigint, workflow text, branch text)
    ORDER BY key
  ) AS k;
  FOR r IN
    SELECT * FROM jsonb_to_recordset(p_runs) AS t(
      id bigint, external_id bigint, run_attempt integer, run_number integer, status text, finished_at timestamptz,
      repository_id bigint, repository text, workflow_id bigint, workflow text, branch text, default_branch text, history boolean)
    ORDER BY repository_id, external_id
  LOOP
    SELECT bs.state, bs.failing_since, bs.failed_runs, bs.broken_build_id, bs.last_run_number INTO s
    FROM branch_states bs
    WHERE bs.repository_id = r.repository_id AND bs.workflow_key = coalesce(r.workflow_id::text, 'name:' || r.workflow)
      AND bs.branch = r.branch;
    SELECT * INTO d FROM runboard_decide_alert(s.state, s.failing_since, s.failed_runs, s.broken_build_id, s.last_run_number,
                                               r.id, r.status, r.run_number, r.finished_at);
    CONTINUE WHEN d.next_state IS NULL;
    INSERT INTO branch_states AS bs (
      repository_id, workflow_key, branch, state, failing_since, failed_runs, broken_build_id, last_build_id, last_run_number)
    VALUES (r.repository_id, coalesce(r.workflow_id::text, 'name:' || r.workflow), r.branch, d.next_state, d.next_failing_since,
            d.next_failed_runs, d.next_broken_build_id, r.id, d.next_last_run_number)
    ON CONFLICT (repository_id, workflow_key, branch) DO UPDATE SET
      state = EXCLUDED.state, failing_since = EXCLUDED.failing_since, failed_runs = EXCLUDED.failed_runs,
      broken_build_id = EXCLUDED.broken_build_id, last_build_id = EXCLUDED.last_build_id,
      last_run_number = EXCLUDED.last_run_number, updated_at = now();
    CONTINUE WHEN d.alert_kind IS NULL OR coalesce(r.history, false);

    -- Read once per batch, and only when some run has something to say.
    IF v_rules IS NULL THEN
      v_rules := coalesce((SELECT rules FROM alert_settings WHERE id = 1), '{}');
    END IF;
    SELECT * INTO v_route FROM runboard_route_alert(
      v_rules, r.repository, r.workflow, r.branch, r.default_branch,
      ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_context->'email_to') = 'array' THEN p_context->'email_to' ELSE '[]' END)),
      p_context->'slack'->>'channel', p_now);
    CONTINUE WHEN NOT v_route.watched;

    v_details := jsonb_build_object('kind', d.alert_kind, 'mutedUntil', runboard_iso_time(v_route.muted_until))
      || CASE d.alert_kind
           WHEN 'still_failing' THEN jsonb_build_object('failedRuns', d.alert_failed_runs, 'brokenBuildId', d.alert_broken_build_id)
           WHEN 'fixed' THEN jsonb_build_object('timeToGreenSeconds', d.time_to_green_seconds,
                                                'failedRuns', d.alert_failed_runs, 'brokenBuildId', d.alert_broken_build_id)
           ELSE '{}'::jsonb
         END;
    v_parent := NULL;
    IF d.alert_kind <> 'broken' AND d.alert_broken_build_id IS NOT NULL THEN
      SELECT a.id INTO v_parent FROM alerts a
      WHERE a.build_id = d.alert_broken_build_id AND a.kind = 'broken' AND a.channel = 'slack'
      ORDER BY a.id LIMIT 1;
    END IF;
    v_muted := CASE WHEN v_route.muted_until IS NOT NULL THEN 'muted until ' || runboard_iso_time(v_route.muted_until) END;

    FOREACH v_channel IN ARRAY CASE WHEN d.alert_kind = 'still_failing' THEN ARRAY['slack'] ELSE ARRAY['email', 'slack'] END LOOP
      IF v_channel = 'email' THEN
        v_target := v_route.email;
        v_off := CASE
          WHEN jsonb_typeof(p_context->'email_to') IS DISTINCT FROM 'array' THEN 'email not configured (SMTP_URL)'
          WHEN cardinality(v_target) = 0 THEN 'no email recipients (ALERT_EMAIL_TO or a route)'
        END;
      ELSE
        v_target := CASE WHEN coalesce(v_route.slack_channel, '') <> '' THEN ARRAY[v_route.slack_channel] ELSE '{}' END;
        v_off := CASE
          WHEN jsonb_typeof(p_context->'slack') IS DISTINCT FROM 'object' THEN 'slack not configured (SLACK_BOT_TOKEN)'
          WHEN cardinality(v_target) = 0 THEN 'no slack channel (SLACK_ALERT_CHANNEL or a route)'
        END;
      END IF;
      INSERT INTO alerts (build_id, run_attempt, kind, channel, target, status, last_error, details, parent_alert_id, next_attempt_at)
      VALUES (r.id, r.run_attempt, d.alert_kind, v_channel, v_target,
              CASE WHEN v_off IS NOT NULL OR v_muted IS NOT NULL THEN 'skipped' ELSE 'pending' END,
              coalesce(v_off, v_muted), v_details, CASE WHEN v_channel = 'slack' THEN v_parent END,
              p_now + make_interval(secs => coalesce((p_context->>'send_delay_ms')::numeric, 0) / 1000))
      ON CONFLICT (build_id, run_attempt, kind, channel) WHERE build_id IS NOT NULL DO NOTHING;
    END LOOP;
  END LOOP;
END
$$;

-- The write function takes the alerting context; the old signature goes.
DROP FUNCTION runboard_write_batch(jsonb, jsonb, jsonb, timestamptz, boolean);

-- Otherwise the rules are those of 0019_placeholder_marker.sql.
CREATE FUNCTION runboard_write_batch(
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
  ),
  notified AS (
    SELECT pg_notify('build_changed', n.id::text) FROM (
      SELECT c.id FROM changed c UNION SELECT jc.build_id FROM jobs_changed jc) AS n
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
  UNION ALL
  -- Never a row: reading the notifications is what sends them.
  SELECT 'none', NULL, NULL, NULL, NULL FROM (SELECT count(*) AS n FROM notified) nn WHERE nn.n < 0
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
  -- Without an alerting context (a write on its own, as tests make) nothing is decided or queued.
  IF p_context IS NOT NULL THEN
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
  -- A job whose run row another transaction committed after this statement began: the
  -- placeholder met that row, but the statement's snapshot cannot see it. A new statement can.
  IF cardinality(v_unlinked) > 0 THEN
    IF p_retry THEN
      RAISE EXCEPTION 'jobs % found no run row', v_unlinked;
    END IF;
    RETURN QUERY SELECT * FROM runboard_write_batch(
      '[]', '[]', (SELECT jsonb_agg(e) FROM jsonb_array_elements(p_jobs) e WHERE (e->>'id')::bigint = ANY (v_unlinked)), p_now, p_context, true);
  END IF;
END
$$;
