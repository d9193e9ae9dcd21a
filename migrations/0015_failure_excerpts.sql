-- What GitHub says about each failed job: its check run's annotations and the end of its
-- failed step's log. One row per failed job, written by ingest in the transaction that stores
-- the job's failure; the row is also the outbox of the read (src/github/failure-reader.ts),
-- with the outbox columns of migrations/0011.
CREATE TABLE failure_excerpts (
  job_id bigint PRIMARY KEY REFERENCES build_jobs (id) ON DELETE CASCADE,
  build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  repository_id bigint NOT NULL,
  -- 'pending' while due or being read, 'done' once read (with or without an excerpt), 'failed'
  -- when given up on.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 0,
  lease_token uuid,
  in_doubt boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- What was read: the failed step's last lines (redacted, a few KB at most), the annotations
  -- ([{level, message, path, line, title}], redacted), why there is no excerpt when there is
  -- none (the log was gone), and the failure's signature (its normalized error line).
  lines text[] NOT NULL DEFAULT '{}',
  annotations jsonb NOT NULL DEFAULT '[]',
  missing_reason text,
  signature_line text,
  signature text,
  -- When the job failed (its completed_at), for "seen before" windows.
  failed_at timestamptz,
  -- It failed before the installation was first seen (imported history): read only while the
  -- installation has the share of its requests the history import leaves itself.
  history boolean NOT NULL DEFAULT false
);

CREATE INDEX failure_excerpts_due_idx ON failure_excerpts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX failure_excerpts_build_idx ON failure_excerpts (build_id);
CREATE INDEX failure_excerpts_signature_idx ON failure_excerpts (repository_id, signature, failed_at) WHERE signature IS NOT NULL;
