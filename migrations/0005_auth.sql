-- Dashboard logins. The cookie carries a random session id (signed); only its SHA-256 is kept
-- here, so a copy of this table opens no session. The user's GitHub token is stored sealed with
-- SECRET_KEY: it re-checks which installations the user may see, every few minutes.
CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  github_user_id bigint NOT NULL,
  login text NOT NULL,
  access_token text NOT NULL,
  installation_ids bigint[] NOT NULL DEFAULT '{}',
  installations_checked_at timestamptz NOT NULL,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Bearer tokens for the JSON API that logged-in users create. Only the SHA-256 of a token is
-- kept; it reads the installations it was scoped to at creation.
CREATE TABLE api_tokens (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  name text NOT NULL,
  github_user_id bigint NOT NULL,
  login text NOT NULL,
  installation_ids bigint[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (github_user_id);
