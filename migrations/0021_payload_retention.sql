-- PAYLOAD_RETENTION_DAYS: the raw payloads of runs and jobs older than the window are dropped
-- (src/payload-retention.ts); the normalized columns stay. A job's payload may now be missing.
ALTER TABLE build_jobs ALTER COLUMN payload DROP NOT NULL;

-- The two facts pages read from a run's payload, kept beside the row when the payload is
-- dropped (NULL while the payload is there, or when it did not say): whether the repository was
-- private (estimated minutes) and its default branch (what is red now).
ALTER TABLE builds ADD COLUMN repository_private boolean, ADD COLUMN repository_default_branch text;

-- Where the last pass ended. Every run created before dropped_before has had its payload
-- dropped (but for rows a write held, or a failed job's log still to read: dropped_before then
-- stops at the first of them), and so has every run up to last_build_id created before that.
-- The next pass walks the created_at index from dropped_before, and the primary key after
-- last_build_id for runs stored since (a history import older than the window): never from
-- the oldest run again, and with no index of its own (an index whose predicate reads payload
-- would stop every update of a run from being HOT).
CREATE TABLE payload_retention (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  dropped_before timestamptz NOT NULL,
  last_build_id bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
