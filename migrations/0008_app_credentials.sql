-- The GitHub App registered from the dashboard ("Connect to GitHub"). The private key, the
-- webhook secret and the OAuth client secret are sealed with a key derived from SECRET_KEY
-- (AES-256-GCM, text "v1." + base64url of IV, ciphertext and tag), so a copy of this table
-- alone opens nothing. Credentials from the environment are never stored here.
CREATE TABLE app_credentials (
  app_id bigint PRIMARY KEY,
  slug text NOT NULL,
  html_url text NOT NULL,
  client_id text NOT NULL,
  private_key text NOT NULL,
  webhook_secret text NOT NULL,
  client_secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One app per Runboard: replicas that handle two callbacks at once store only the first, and
-- the web never replaces stored credentials.
CREATE UNIQUE INDEX app_credentials_one_app ON app_credentials ((true));
