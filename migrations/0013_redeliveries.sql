-- Redeliveries of webhook deliveries that GitHub records as failed (src/github/redeliver-failed.ts).
-- One row per event (GitHub's guid, the X-GitHub-Delivery id): the row is the claim, so a guid is
-- asked for once, whichever replica or restart comes next. The insert that creates it is made
-- before the request (ON CONFLICT DO NOTHING decides who sends); the request goes out with no
-- transaction open, under a lease (lease_token, retry_after = the lease's end), and its outcome
-- is recorded in a second statement that names the lease.
-- outcome:
--   pending    claimed, the request is under way (or queued: due at retry_after, no lease)
--   requested  GitHub accepted the redelivery (202)
--   refused    GitHub answered 4xx (too old, gone): final
--   error      5xx, network, deadline or rate limit: due again at retry_after (NULL: given up)
--   delivered  GitHub's log shows a redelivery of this guid answered 2xx: nothing more to do.
--              Also written for guids Runboard never asked for (requested_at NULL), so that
--              their older failed attempts, read on a later pass, are not redelivered.
CREATE TABLE redeliveries (
  guid text PRIMARY KEY,
  delivery_id bigint NOT NULL,
  event text NOT NULL,
  action text,
  installation_id bigint,
  repository_id bigint,
  requested_at timestamptz,
  outcome text NOT NULL CHECK (outcome IN ('pending', 'requested', 'refused', 'error', 'delivered')),
  status_code integer,
  error text,
  attempts integer NOT NULL DEFAULT 0,
  retry_after timestamptz,
  lease_token uuid,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX redeliveries_due_idx ON redeliveries (retry_after) WHERE outcome IN ('pending', 'error');

-- How far GitHub's delivery log has been read (one row). The log is read newest first, a few
-- pages a pass:
--   floor_id     every entry at or below this id was read by a finished walk (the high-water mark)
--   walk_top_id  the newest entry of the walk under way, which becomes the floor when it ends
--   walk_cursor  GitHub's cursor of the page the walk under way resumes at
-- version guards the row against two replicas saving walks at once (the second save is dropped).
CREATE TABLE redelivery_scan (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  floor_id bigint,
  walk_top_id bigint,
  walk_cursor text,
  version integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO redelivery_scan DEFAULT VALUES;
