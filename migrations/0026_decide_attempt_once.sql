-- A branch's state records which attempt of its last run decided it, and that attempt decides
-- once: a later copy of a finished attempt (its updated_at moved on, as GitHub's API or a late
-- delivery may give it) is written, but says nothing and counts no second failure. A re-run is a
-- new attempt, and news.
ALTER TABLE branch_states ADD COLUMN last_run_attempt integer;

-- The states decided before: their last run's attempt, where it is the run's finished attempt
-- (the one that decided). A run re-run since is on a newer attempt that has not decided yet: its
-- state keeps NULL, which matches no attempt.
UPDATE branch_states s SET last_run_attempt = b.run_attempt
FROM builds b
WHERE b.id = s.last_build_id AND b.status IN ('success', 'failed') AND b.finished_at IS NOT NULL;

-- Otherwise the function of 0020_alerts_in_write.sql.
CREATE OR REPLACE FUNCTION runboard_queue_alerts(p_runs jsonb, p_context jsonb, p_now timestamptz) RETURNS void
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
    SELECT bs.state, bs.failing_since, bs.failed_runs, bs.broken_build_id, bs.last_run_number,
           bs.last_build_id, bs.last_run_attempt INTO s
    FROM branch_states bs
    WHERE bs.repository_id = r.repository_id AND bs.workflow_key = coalesce(r.workflow_id::text, 'name:' || r.workflow)
      AND bs.branch = r.branch;
    -- This attempt of this run decided the branch already: a later copy of it is no news.
    CONTINUE WHEN s.last_build_id = r.id AND s.last_run_attempt = r.run_attempt;
    SELECT * INTO d FROM runboard_decide_alert(s.state, s.failing_since, s.failed_runs, s.broken_build_id, s.last_run_number,
                                               r.id, r.status, r.run_number, r.finished_at);
    CONTINUE WHEN d.next_state IS NULL;
    INSERT INTO branch_states AS bs (
      repository_id, workflow_key, branch, state, failing_since, failed_runs, broken_build_id, last_build_id, last_run_number,
      last_run_attempt)
    VALUES (r.repository_id, coalesce(r.workflow_id::text, 'name:' || r.workflow), r.branch, d.next_state, d.next_failing_since,
            d.next_failed_runs, d.next_broken_build_id, r.id, d.next_last_run_number, r.run_attempt)
    ON CONFLICT (repository_id, workflow_key, branch) DO UPDATE SET
      state = EXCLUDED.state, failing_since = EXCLUDED.failing_since, failed_runs = EXCLUDED.failed_runs,
      broken_build_id = EXCLUDED.broken_build_id, last_build_id = EXCLUDED.last_build_id,
      last_run_number = EXCLUDED.last_run_number, last_run_attempt = EXCLUDED.last_run_attempt, updated_at = now();
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
