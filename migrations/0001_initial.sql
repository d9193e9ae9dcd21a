-- Providers of CI data. GitHub Actions is the first; the schema allows more.
CREATE TABLE providers (
  id smallint PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  name text NOT NULL
);

INSERT INTO providers (id, slug, name) VALUES (1, 'github-actions', 'GitHub Actions');

-- One row per workflow run. A re-run keeps the row and raises run_attempt.
-- status is the shown vocabulary; raw_status and conclusion are GitHub's own words.
-- status_rank orders states within one attempt (queued 1, running 2, finished 3) so that
-- the upsert can refuse to move a run backwards.
CREATE TABLE builds (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider_id smallint NOT NULL REFERENCES providers (id),
  installation_id bigint,
  repository_id bigint NOT NULL,
  repository text NOT NULL,
  external_id bigint NOT NULL,
  run_attempt integer NOT NULL,
  run_number integer,
  workflow_id bigint,
  workflow text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled', 'skipped')),
  status_rank smallint NOT NULL,
  raw_status text,
  conclusion text,
  branch text,
  commit_sha text,
  commit_message text,
  triggered_by text,
  event text,
  url text,
  created_at timestamptz,
  updated_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  duration_seconds double precision GENERATED ALWAYS AS (extract(epoch FROM finished_at - started_at)) STORED,
  -- NULL while the row only knows of the run through one of its jobs.
  payload jsonb,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT builds_natural_key UNIQUE (provider_id, repository_id, external_id)
);

-- Newest first, overall and per repository (a run known only through its jobs may lack
-- created_at: it sorts last). Other filters (branch, workflow, status, actor) walk the
-- created_at index: every index here costs each of the several writes a run makes, and they
-- change on every status, so only these two are kept.
CREATE INDEX builds_created_idx ON builds (created_at DESC NULLS LAST, id DESC);
CREATE INDEX builds_repository_created_idx ON builds (repository, created_at DESC NULLS LAST, id DESC);
CREATE INDEX builds_commit_idx ON builds (repository_id, commit_sha);

-- One row per job. A job id belongs to exactly one attempt of one run.
CREATE TABLE build_jobs (
  id bigint PRIMARY KEY,
  build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  run_attempt integer NOT NULL,
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled', 'skipped')),
  status_rank smallint NOT NULL,
  -- Completed steps, so that a later snapshot of a running job wins over an earlier one.
  progress smallint NOT NULL,
  raw_status text,
  conclusion text,
  runner_labels text[] NOT NULL DEFAULT '{}',
  runner_name text,
  runner_group text,
  steps jsonb NOT NULL DEFAULT '[]',
  failed_step text,
  url text,
  queued_at timestamptz,
  started_at timestamptz,
  completed_at timestamptz,
  queue_seconds double precision GENERATED ALWAYS AS (extract(epoch FROM started_at - queued_at)) STORED,
  run_seconds double precision GENERATED ALWAYS AS (extract(epoch FROM completed_at - started_at)) STORED,
  payload jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX build_jobs_build_idx ON build_jobs (build_id, run_attempt);

-- Every webhook delivery that was ingested, by GitHub's X-GitHub-Delivery id.
CREATE TABLE deliveries (
  id text PRIMARY KEY,
  event text NOT NULL,
  action text,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_received_idx ON deliveries (received_at);
