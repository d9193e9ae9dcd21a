import type { DatabasePool } from "slonik";
import type { GithubAppConfig } from "../config.js";
import { getAppCredentials, insertAppCredentials, type StoredAppCredentials } from "../db/app-credentials.js";
import { createSecretBox, type SecretBox } from "../domain/secret-box.js";

/** HKDF info for the key that seals stored app credentials (and nothing else). */
const CREDENTIALS_KEY_INFO = "runboard app credentials";

/** What GitHub hands over once for a registered app (the manifest conversion), as kept here. */
export interface RegisteredApp {
  appId: number;
  slug: string;
  htmlUrl: string;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  privateKey: string;
}

/** A stored app, opened: what the holder builds a Probot from. */
export interface OpenedApp {
  github: GithubAppConfig;
  slug: string;
  htmlUrl: string;
  oauth: { clientId: string; clientSecret: string };
}

export interface AppCredentialsStore {
  /** Whether credentials can be sealed and stored: SECRET_KEY is set. */
  canStore(): boolean;
  /** The stored app, its secrets opened; null when none is stored. Throws when SECRET_KEY is missing or wrong. */
  read(): Promise<OpenedApp | null>;
  /** Seals and stores a registered app unless one is stored already; returns whether this call stored it. */
  save(app: RegisteredApp): Promise<boolean>;
}

/** The opened form of a registered app, as it is used before (and without) storing it. */
export function openedFromRegistered(app: RegisteredApp, apiBaseUrl: string): OpenedApp {
  return {
    github: { appId: app.appId, privateKey: app.privateKey, webhookSecret: app.webhookSecret, apiBaseUrl },
    slug: app.slug,
    htmlUrl: app.htmlUrl,
    oauth: { clientId: app.clientId, clientSecret: app.clientSecret },
  };
}

/**
 * The GitHub App registered from the dashboard, kept in `app_credentials` with its secrets sealed
 * by SECRET_KEY. The column and the app id are bound to each sealed value, so a value copied into
 * another column or row does not open.
 */
export function createAppCredentialsStore(deps: {
  pool: DatabasePool;
  secretKey: string | null;
  githubApiBaseUrl: string;
}): AppCredentialsStore {
  const box: SecretBox | null = deps.secretKey ? createSecretBox(deps.secretKey, CREDENTIALS_KEY_INFO) : null;
  const contextOf = (appId: number, column: string) => `app ${appId} ${column}`;

  const open = (row: StoredAppCredentials): OpenedApp => {
    if (!box) {
      throw new Error(
        "a GitHub App registered from the dashboard is stored, but SECRET_KEY is not set: set the SECRET_KEY it was stored with",
      );
    }
    try {
      return openedFromRegistered(
        {
          appId: row.app_id,
          slug: row.slug,
          htmlUrl: row.html_url,
          clientId: row.client_id,
          privateKey: box.open(row.private_key, contextOf(row.app_id, "private_key")),
          webhookSecret: box.open(row.webhook_secret, contextOf(row.app_id, "webhook_secret")),
          clientSecret: box.open(row.client_secret, contextOf(row.app_id, "client_secret")),
        },
        deps.githubApiBaseUrl,
      );
    } catch (error) {
      throw new Error(
        `SECRET_KEY does not open the stored GitHub App credentials (app ${row.app_id}): set the SECRET_KEY they were stored with`,
        { cause: error },
      );
    }
  };

  return {
    canStore: () => box !== null,

    async read() {
      const row = await getAppCredentials(deps.pool);
      return row ? open(row) : null;
    },

    async save(app) {
      if (!box) throw new Error("SECRET_KEY is not set: registered credentials cannot be stored");
      return insertAppCredentials(deps.pool, {
        app_id: app.appId,
        slug: app.slug,
        html_url: app.htmlUrl,
        client_id: app.clientId,
        private_key: box.seal(app.privateKey, contextOf(app.appId, "private_key")),
        webhook_secret: box.seal(app.webhookSecret, contextOf(app.appId, "webhook_secret")),
        client_secret: box.seal(app.clientSecret, contextOf(app.appId, "client_secret")),
      });
    },
  };
}
