-- Installations of the app, and when the poller last read each one through.
CREATE TABLE installations (
  id bigint PRIMARY KEY,
  account text NOT NULL,
  last_synced_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each repository the poller reads: where its next poll starts (cursor: the creation time of
-- the oldest run it still has to watch), the ETag of that query's first page (an idle
-- repository then costs a 304, which GitHub does not count), and how far a backfill got.
CREATE TABLE sync_repositories (
  repository_id bigint PRIMARY KEY,
  installation_id bigint NOT NULL,
  full_name text NOT NULL,
  default_branch text,
  cursor timestamptz,
  etag text,
  etag_url text,
  backfilled_from timestamptz,
  backfilled_to timestamptz,
  last_polled_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sync_repositories_installation_idx ON sync_repositories (installation_id);
