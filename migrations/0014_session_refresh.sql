-- Sessions that outlive the user's GitHub token. A GitHub App's user tokens expire (8 hours by
-- default) and come with a single-use refresh token (6 months): the session keeps it, sealed with
-- SECRET_KEY like the access token, and trades it for a new pair once the token has expired.
-- refresh_claimed_until is a short claim: the replica that sets it (in a statement of its own,
-- no transaction held) is the one that calls GitHub; another replica that finds the token
-- expired meanwhile waits for the new one instead of spending the refresh token a second time.
ALTER TABLE sessions
  ADD COLUMN refresh_token text,
  ADD COLUMN access_token_expires_at timestamptz,
  ADD COLUMN refresh_claimed_until timestamptz;
