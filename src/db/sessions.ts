import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

export const sessionSchema = z.object({
  github_user_id: z.number(),
  login: z.string(),
  /** The user's GitHub token, sealed. */
  access_token: z.string(),
  /** Its refresh token, sealed; null when GitHub issued a token that does not expire. */
  refresh_token: z.string().nullable(),
  /** When GitHub said the access token expires; null: it does not. */
  access_token_expires_at: z.date().nullable(),
  installation_ids: z.array(z.number()),
  installations_checked_at: z.date(),
  csrf_token: z.string(),
  expires_at: z.date(),
});
export type SessionRow = z.infer<typeof sessionSchema>;

const sessionColumns = sql.fragment`
  github_user_id, login, access_token, refresh_token, access_token_expires_at, installation_ids,
  installations_checked_at, csrf_token, expires_at`;

/** Stores a new session under the hash of its id. */
export async function insertSession(
  connection: CommonQueryMethods,
  session: SessionRow & { idHash: string },
): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO sessions (id_hash, github_user_id, login, access_token, refresh_token, access_token_expires_at,
                          installation_ids, installations_checked_at, csrf_token, expires_at)
    VALUES (${session.idHash}, ${session.github_user_id}, ${session.login}, ${session.access_token}, ${session.refresh_token},
            ${session.access_token_expires_at ? sql.timestamp(session.access_token_expires_at) : null},
            ${sql.array(session.installation_ids, "int8")}, ${sql.timestamp(session.installations_checked_at)},
            ${session.csrf_token}, ${sql.timestamp(session.expires_at)})`);
}

/** The live session with this id hash, or null when unknown or expired. */
export async function findSession(connection: CommonQueryMethods, idHash: string, now: Date): Promise<SessionRow | null> {
  return connection.maybeOne(sql.type(sessionSchema)`
    SELECT ${sessionColumns} FROM sessions WHERE id_hash = ${idHash} AND expires_at > ${sql.timestamp(now)}`);
}

/** Records a fresh answer to "which installations may this user see". */
export async function updateSessionInstallations(
  connection: CommonQueryMethods,
  idHash: string,
  installationIds: number[],
  checkedAt: Date,
): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sessions SET installation_ids = ${sql.array(installationIds, "int8")}, installations_checked_at = ${sql.timestamp(checkedAt)}
    WHERE id_hash = ${idHash}`);
}

/**
 * Claims the refresh of a session's token until `until`, if nobody holds a live claim and the
 * token is still `seenAccessToken` (else another replica has refreshed it already).
 * @returns the sealed refresh token to spend, or null when the claim was not taken.
 */
export async function claimSessionRefresh(
  connection: CommonQueryMethods,
  idHash: string,
  seenAccessToken: string,
  now: Date,
  until: Date,
): Promise<string | null> {
  return connection.maybeOneFirst(sql.type(z.object({ refresh_token: z.string() }))`
    UPDATE sessions SET refresh_claimed_until = ${sql.timestamp(until)}
    WHERE id_hash = ${idHash} AND access_token = ${seenAccessToken} AND refresh_token IS NOT NULL
      AND (refresh_claimed_until IS NULL OR refresh_claimed_until <= ${sql.timestamp(now)})
    RETURNING refresh_token`);
}

/** Stores the tokens a refresh brought (sealed) and releases the claim. */
export async function saveRefreshedTokens(
  connection: CommonQueryMethods,
  idHash: string,
  tokens: { accessToken: string; refreshToken: string | null; accessTokenExpiresAt: Date | null },
): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE sessions SET access_token = ${tokens.accessToken}, refresh_token = ${tokens.refreshToken},
      access_token_expires_at = ${tokens.accessTokenExpiresAt ? sql.timestamp(tokens.accessTokenExpiresAt) : null},
      refresh_claimed_until = NULL
    WHERE id_hash = ${idHash}`);
}

/** Gives up a refresh claim without a new token (GitHub did not answer): the next check tries again. */
export async function releaseSessionRefresh(connection: CommonQueryMethods, idHash: string): Promise<void> {
  await connection.query(sql.unsafe`UPDATE sessions SET refresh_claimed_until = NULL WHERE id_hash = ${idHash}`);
}

/** Where another replica's refresh stands: the session's current sealed token and claim, or null once the session is gone. */
export async function readSessionRefresh(
  connection: CommonQueryMethods,
  idHash: string,
): Promise<{ access_token: string; refresh_claimed_until: Date | null } | null> {
  return connection.maybeOne(sql.type(z.object({ access_token: z.string(), refresh_claimed_until: z.date().nullable() }))`
    SELECT access_token, refresh_claimed_until FROM sessions WHERE id_hash = ${idHash}`);
}

/** Ends a session, and any that expired meanwhile. */
export async function deleteSession(connection: CommonQueryMethods, idHash: string, now: Date): Promise<void> {
  await connection.query(sql.unsafe`DELETE FROM sessions WHERE id_hash = ${idHash} OR expires_at <= ${sql.timestamp(now)}`);
}
