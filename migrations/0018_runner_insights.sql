-- Runner insights: queue time, estimated minutes, the queue-time alert and scheduled digests.

-- A job that waited for an environment's approval (GitHub's `waiting` status) has a queue time
-- that is mostly a person's, not a runner's: it is left out of queue figures. The write function
-- overwrites a job's status, so the fact is kept here when a `waiting` snapshot arrives; later
-- snapshots do not name this column and keep it. (A column with a constant default is added
-- without rewriting the table.)
ALTER TABLE build_jobs ADD COLUMN waited_for_approval boolean NOT NULL DEFAULT false;

CREATE FUNCTION runboard_mark_approval_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.waited_for_approval := true;
  RETURN NEW;
END
$$;

-- Fires only for `waiting` snapshots: every other job write pays for the WHEN test alone.
CREATE TRIGGER build_jobs_approval_wait
  BEFORE INSERT OR UPDATE ON build_jobs
  FOR EACH ROW WHEN (NEW.raw_status = 'waiting')
  EXECUTE FUNCTION runboard_mark_approval_wait();

-- Queue time and minutes are read by when jobs started (re-runs of old runs included, which a
-- window on builds.created_at would miss); jobs waiting now by the small set still queued.
CREATE INDEX build_jobs_started_idx ON build_jobs (started_at) WHERE started_at IS NOT NULL;
CREATE INDEX build_jobs_waiting_idx ON build_jobs (queued_at) WHERE status = 'queued';

-- Queue-time alerts go through the alerts outbox, without a build.
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
  CHECK (kind IN ('broken', 'still_failing', 'fixed', 'test', 'queue_slow', 'queue_recovered'));

-- Whether each runner label set's p95 queue time is over its route's threshold. A label set
-- alerts at most once an hour (last_alert_at) and once when it is back under.
CREATE TABLE queue_alert_states (
  label_set text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('over', 'under')),
  last_alert_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Scheduled digests: the outbox of digest messages (db/outbox.ts owns the delivery columns).
-- One row per scheduled fire time and target, however many replicas fire: the unique key is
-- what makes a digest go out once.
CREATE TABLE digests (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fire_at timestamptz NOT NULL,
  period_start timestamptz NOT NULL,
  channel text NOT NULL CHECK (channel IN ('email', 'slack')),
  -- Email: the recipients, sorted and comma-separated; Slack: the channel.
  target text NOT NULL,
  -- The repositories this target hears about; NULL: every repository.
  repositories text[],
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  version integer NOT NULL DEFAULT 0,
  lease_token uuid,
  in_doubt boolean NOT NULL DEFAULT false,
  slack_ts text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT digests_once UNIQUE (fire_at, channel, target)
);

CREATE INDEX digests_due_idx ON digests (next_attempt_at) WHERE status = 'pending';
