-- Slack users linked to GitHub logins, so buttons that write to GitHub act for a known person.
-- A link starts with `/builds link` in Slack (a one-time code, 15 minutes) and ends on the
-- dashboard, logged in with GitHub. Only the SHA-256 of a code is kept.
CREATE TABLE slack_link_codes (
  code_hash text PRIMARY KEY,
  slack_team_id text NOT NULL,
  slack_user_id text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX slack_link_codes_expires_idx ON slack_link_codes (expires_at);

CREATE TABLE slack_links (
  slack_team_id text NOT NULL,
  slack_user_id text NOT NULL,
  github_user_id bigint NOT NULL,
  github_login text NOT NULL,
  linked_at timestamptz NOT NULL,
  PRIMARY KEY (slack_team_id, slack_user_id)
);

CREATE INDEX slack_links_login_idx ON slack_links (lower(github_login));

-- Button presses already acted on: Slack delivers a press again when our answer was slow
-- (x-slack-retry-num), and a re-run must reach GitHub once.
CREATE TABLE slack_actions_done (
  action_key text PRIMARY KEY,
  done_at timestamptz NOT NULL
);
