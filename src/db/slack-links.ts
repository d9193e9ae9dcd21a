import { createHash, randomBytes } from "node:crypto";
import { sql, type CommonQueryMethods, type DatabasePool } from "slonik";
import { z } from "zod";

/** How long a `/builds link` code can be used. */
export const LINK_CODE_TTL_MS = 15 * 60_000;

export interface SlackUser {
  teamId: string;
  userId: string;
}

const linkSchema = z.object({
  slack_team_id: z.string(),
  slack_user_id: z.string(),
  github_user_id: z.number(),
  github_login: z.string(),
  linked_at: z.date(),
});
export type SlackLink = z.infer<typeof linkSchema>;

function hashCode(code: string): string {
  return createHash("sha256").update(code).digest("hex");
}

/**
 * Issues a one-time code that links this Slack user to whoever opens it logged in with GitHub.
 * Only its hash is stored; expired codes are cleared on the way.
 */
export async function createLinkCode(connection: CommonQueryMethods, user: SlackUser, now: Date): Promise<string> {
  const code = randomBytes(24).toString("base64url");
  await connection.query(sql.unsafe`DELETE FROM slack_link_codes WHERE expires_at <= ${sql.timestamp(now)}`);
  await connection.query(sql.unsafe`
    INSERT INTO slack_link_codes (code_hash, slack_team_id, slack_user_id, created_at, expires_at)
    VALUES (${hashCode(code)}, ${user.teamId}, ${user.userId}, ${sql.timestamp(now)},
            ${sql.timestamp(new Date(now.getTime() + LINK_CODE_TTL_MS))})`);
  return code;
}

/** The Slack user a live code would link, without using it up (for the confirmation page). */
export async function peekLinkCode(connection: CommonQueryMethods, code: string, now: Date): Promise<SlackUser | null> {
  const row = await connection.maybeOne(sql.type(z.object({ slack_team_id: z.string(), slack_user_id: z.string() }))`
    SELECT slack_team_id, slack_user_id FROM slack_link_codes
    WHERE code_hash = ${hashCode(code)} AND expires_at > ${sql.timestamp(now)}`);
  return row ? { teamId: row.slack_team_id, userId: row.slack_user_id } : null;
}

/**
 * Uses up a live code and links its Slack user to the GitHub user, replacing an older link of
 * that Slack user. Returns null when the code is unknown, used or expired.
 */
export async function consumeLinkCode(
  pool: DatabasePool,
  code: string,
  github: { githubUserId: number; login: string },
  now: Date,
): Promise<SlackLink | null> {
  return pool.transaction(async (tx) => {
    const owner = await tx.maybeOne(sql.type(z.object({ slack_team_id: z.string(), slack_user_id: z.string() }))`
      DELETE FROM slack_link_codes
      WHERE code_hash = ${hashCode(code)} AND expires_at > ${sql.timestamp(now)}
      RETURNING slack_team_id, slack_user_id`);
    if (!owner) return null;
    return tx.one(sql.type(linkSchema)`
      INSERT INTO slack_links (slack_team_id, slack_user_id, github_user_id, github_login, linked_at)
      VALUES (${owner.slack_team_id}, ${owner.slack_user_id}, ${github.githubUserId}, ${github.login}, ${sql.timestamp(now)})
      ON CONFLICT (slack_team_id, slack_user_id) DO UPDATE SET
        github_user_id = EXCLUDED.github_user_id, github_login = EXCLUDED.github_login, linked_at = EXCLUDED.linked_at
      RETURNING slack_team_id, slack_user_id, github_user_id, github_login, linked_at`);
  });
}

/** The GitHub login a Slack user is linked to, or null. */
export async function findSlackLink(connection: CommonQueryMethods, user: SlackUser): Promise<SlackLink | null> {
  return connection.maybeOne(sql.type(linkSchema)`
    SELECT slack_team_id, slack_user_id, github_user_id, github_login, linked_at FROM slack_links
    WHERE slack_team_id = ${user.teamId} AND slack_user_id = ${user.userId}`);
}

/**
 * The Slack user linked to a GitHub login (the most recent link when several workspaces have
 * one), or null. Logins compare case-insensitively, as on GitHub.
 */
export async function findSlackUserForLogin(connection: CommonQueryMethods, login: string): Promise<string | null> {
  return connection.maybeOneFirst(sql.type(z.object({ slack_user_id: z.string() }))`
    SELECT slack_user_id FROM slack_links WHERE lower(github_login) = lower(${login})
    ORDER BY linked_at DESC LIMIT 1`);
}

/**
 * Claims a button press so that it is acted on once, whichever replica and whichever of
 * Slack's retries gets it first. True for the first claim only.
 */
export async function claimSlackAction(connection: CommonQueryMethods, actionKey: string, now: Date): Promise<boolean> {
  const claimed = await connection.maybeOne(sql.type(z.object({ action_key: z.string() }))`
    INSERT INTO slack_actions_done (action_key, done_at) VALUES (${actionKey}, ${sql.timestamp(now)})
    ON CONFLICT (action_key) DO NOTHING RETURNING action_key`);
  return claimed !== null;
}
