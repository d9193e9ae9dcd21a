import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

export const apiTokenSchema = z.object({
  id: z.number(),
  name: z.string(),
  login: z.string(),
  installation_ids: z.array(z.number()),
  created_at: z.date(),
  last_used_at: z.date().nullable(),
});
export type ApiToken = z.infer<typeof apiTokenSchema>;

/** Stores a token by its hash; the token itself is shown once and never kept. */
export async function insertApiToken(
  connection: CommonQueryMethods,
  token: { tokenHash: string; name: string; githubUserId: number; login: string; installationIds: number[] },
): Promise<ApiToken> {
  return connection.one(sql.type(apiTokenSchema)`
    INSERT INTO api_tokens (token_hash, name, github_user_id, login, installation_ids)
    VALUES (${token.tokenHash}, ${token.name}, ${token.githubUserId}, ${token.login}, ${sql.array(token.installationIds, "int8")})
    RETURNING id, name, login, installation_ids, created_at, last_used_at`);
}

/** The unrevoked token with this hash, marking it used; null when there is none. */
export async function useApiToken(connection: CommonQueryMethods, tokenHash: string, now: Date): Promise<ApiToken | null> {
  return connection.maybeOne(sql.type(apiTokenSchema)`
    UPDATE api_tokens SET last_used_at = ${sql.timestamp(now)}
    WHERE token_hash = ${tokenHash} AND revoked_at IS NULL
    RETURNING id, name, login, installation_ids, created_at, last_used_at`);
}

/** A user's unrevoked tokens, newest first. */
export async function listApiTokens(connection: CommonQueryMethods, githubUserId: number): Promise<readonly ApiToken[]> {
  return connection.any(sql.type(apiTokenSchema)`
    SELECT id, name, login, installation_ids, created_at, last_used_at FROM api_tokens
    WHERE github_user_id = ${githubUserId} AND revoked_at IS NULL ORDER BY id DESC`);
}

/** Revokes one of a user's tokens; false when it is not theirs or already revoked. */
export async function revokeApiToken(
  connection: CommonQueryMethods,
  githubUserId: number,
  id: number,
  now: Date,
): Promise<boolean> {
  const result = await connection.query(sql.unsafe`
    UPDATE api_tokens SET revoked_at = ${sql.timestamp(now)}
    WHERE id = ${id} AND github_user_id = ${githubUserId} AND revoked_at IS NULL`);
  return result.rowCount === 1;
}
