import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

export const sessionSchema = z.object({
  github_user_id: z.number(),
  login: z.string(),
  access_token: z.string(),
  installation_ids: z.array(z.number()),
  installations_checked_at: z.date(),
  csrf_token: z.string(),
  expires_at: z.date(),
});
export type SessionRow = z.infer<typeof sessionSchema>;

/** Stores a new session under the hash of its id. */
export async function insertSession(
  connection: CommonQueryMethods,
  session: SessionRow & { idHash: string },
): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO sessions (id_hash, github_user_id, login, access_token, installation_ids, installations_checked_at, csrf_token, expires_at)
    VALUES (${session.idHash}, ${session.github_user_id}, ${session.login}, ${session.access_token},
            ${sql.array(session.installation_ids, "int8")}, ${sql.timestamp(session.installations_checked_at)},
            ${session.csrf_token}, ${sql.timestamp(session.expires_at)})`);
}

/** The live session with this id hash, or null when unknown or expired. */
export async function findSession(connection: CommonQueryMethods, idHash: string, now: Date): Promise<SessionRow | null> {
  return connection.maybeOne(sql.type(sessionSchema)`
    SELECT github_user_id, login, access_token, installation_ids, installations_checked_at, csrf_token, expires_at
    FROM sessions WHERE id_hash = ${idHash} AND expires_at > ${sql.timestamp(now)}`);
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

/** Ends a session, and any that expired meanwhile. */
export async function deleteSession(connection: CommonQueryMethods, idHash: string, now: Date): Promise<void> {
  await connection.query(sql.unsafe`DELETE FROM sessions WHERE id_hash = ${idHash} OR expires_at <= ${sql.timestamp(now)}`);
}
