import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

/** The stored row: the secrets are sealed (see src/domain/secret-box.ts), never plain. */
export const storedAppCredentialsSchema = z.object({
  app_id: z.number(),
  slug: z.string(),
  html_url: z.string(),
  client_id: z.string(),
  private_key: z.string(),
  webhook_secret: z.string(),
  client_secret: z.string(),
});
export type StoredAppCredentials = z.infer<typeof storedAppCredentialsSchema>;

/**
 * Stores the registered app's credentials unless an app is stored already (at most one row).
 * @returns whether this call stored them.
 */
export async function insertAppCredentials(connection: CommonQueryMethods, row: StoredAppCredentials): Promise<boolean> {
  const inserted = await connection.maybeOneFirst(sql.type(z.object({ app_id: z.number() }))`
    INSERT INTO app_credentials (app_id, slug, html_url, client_id, private_key, webhook_secret, client_secret)
    VALUES (${row.app_id}, ${row.slug}, ${row.html_url}, ${row.client_id}, ${row.private_key}, ${row.webhook_secret}, ${row.client_secret})
    ON CONFLICT DO NOTHING
    RETURNING app_id`);
  return inserted !== null;
}

/** The stored app, or null before one was registered from the dashboard. */
export async function getAppCredentials(connection: CommonQueryMethods): Promise<StoredAppCredentials | null> {
  return connection.maybeOne(sql.type(storedAppCredentialsSchema)`
    SELECT app_id, slug, html_url, client_id, private_key, webhook_secret, client_secret
    FROM app_credentials`);
}
