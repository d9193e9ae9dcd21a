-- What GitHub says about each installation, kept by the installation webhooks: suspended ones
-- are not polled, deleted ones never again (GitHub does not reuse an installation id).
-- created_at lets a never-synced installation count towards the poller's lag.
ALTER TABLE installations
  ADD COLUMN repository_selection text CHECK (repository_selection IN ('all', 'selected')),
  ADD COLUMN permissions jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN suspended_at timestamptz,
  ADD COLUMN deleted_at timestamptz,
  ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
