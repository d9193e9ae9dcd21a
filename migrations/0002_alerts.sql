-- Whether each (repository, workflow, branch) is passing or failing, so that alerts follow
-- state changes rather than runs. last_run_number keeps a late result of an older run from
-- deciding the state after a newer run has.
CREATE TABLE branch_states (
  repository_id bigint NOT NULL,
  workflow_key text NOT NULL,
  branch text NOT NULL,
  state text NOT NULL CHECK (state IN ('passing', 'failing')),
  -- When the current failure streak began (finish time of its first failed run).
  failing_since timestamptz,
  failed_runs integer NOT NULL DEFAULT 0,
  -- The "broken" alert of the current streak: Slack replies thread under it.
  broken_build_id bigint REFERENCES builds (id) ON DELETE SET NULL,
  last_build_id bigint REFERENCES builds (id) ON DELETE SET NULL,
  last_run_number integer,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, workflow_key, branch)
);

-- The alerts outbox and history in one: rows are written in the ingest transaction and
-- delivered by a worker; a row is never deleted.
CREATE TABLE alerts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  build_id bigint REFERENCES builds (id) ON DELETE CASCADE,
  run_attempt integer,
  kind text NOT NULL CHECK (kind IN ('broken', 'still_failing', 'fixed', 'test')),
  channel text NOT NULL CHECK (channel IN ('email', 'slack')),
  -- Email: the recipients; Slack: the channel.
  target text[] NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  -- Facts decided with the alert: time to green, failed runs in between.
  details jsonb NOT NULL DEFAULT '{}',
  -- Slack: the message this one replies to, and the message's own ts once sent.
  parent_alert_id bigint REFERENCES alerts (id),
  slack_channel_id text,
  slack_ts text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A redelivered webhook or a re-poll never alerts twice.
CREATE UNIQUE INDEX alerts_dedupe_idx ON alerts (build_id, run_attempt, kind, channel) WHERE build_id IS NOT NULL;
CREATE INDEX alerts_due_idx ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_created_idx ON alerts (created_at DESC, id DESC);

-- The routing rules, one JSON document validated by the API's schema.
CREATE TABLE alert_settings (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  rules jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The dashboard's "broken now" reads the failing branches only.
CREATE INDEX branch_states_failing_idx ON branch_states (failing_since) WHERE state = 'failing';
