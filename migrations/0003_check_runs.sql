-- One "Runboard" check run per commit: the outbox of check-run writes and the memory of the
-- check run's id on GitHub, so each commit carries one summary that later runs update.
CREATE TABLE check_runs (
  repository_id bigint NOT NULL,
  head_sha text NOT NULL,
  repository text NOT NULL,
  installation_id bigint NOT NULL,
  default_branch text,
  check_run_id bigint,
  status text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, head_sha)
);

CREATE INDEX check_runs_due_idx ON check_runs (next_attempt_at) WHERE status = 'pending';

-- Installations found without `checks: write`: logged once, tried again after retry_after.
CREATE TABLE check_run_permissions (
  installation_id bigint PRIMARY KEY,
  missing_since timestamptz NOT NULL,
  retry_after timestamptz NOT NULL
);
