import type { Logger } from "pino";
import { ProbotOctokit, type ApplicationFunction, type Probot } from "probot";
import type { DatabasePool } from "slonik";
import type { Config, GithubAppConfig } from "../config.js";
import { getAppCredentials, insertAppCredentials, type StoredAppCredentials } from "../db/app-credentials.js";
import { createSecretBox, type SecretBox } from "../domain/secret-box.js";
import { createProbot } from "./create-probot.js";

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

/** A GitHub App is configured already: credentials are never replaced from the web. */
export class AppAlreadyConfiguredError extends Error {
  override name = "AppAlreadyConfiguredError";
}

export interface GithubAppHolder {
  /** The Probot of the current app, or null while none is configured. */
  probot(): Probot | null;
  github(): GithubAppConfig | null;
  /** The app's OAuth client: the environment's, else the stored app's. */
  oauth(): { clientId: string; clientSecret: string } | null;
  /** The stored app's slug (null for an app from the environment, whose slug is not known here). */
  slug(): string | null;
  /** The stored app's page on GitHub, for "Install on an organization". */
  htmlUrl(): string | null;
  /** Whether registered credentials can be stored: SECRET_KEY is set. */
  canStore(): boolean;
  /** At start: the environment's credentials win; otherwise the stored ones, decrypted. */
  load(): Promise<void>;
  /**
   * While no app is loaded, reads the stored one again: another replica may have handled the
   * registration. Concurrent calls share one query; failures are logged, never thrown.
   */
  refresh(): Promise<void>;
  /** Seals and stores a newly registered app, then serves webhooks with it at once. */
  register(app: RegisteredApp): Promise<void>;
}

interface Loaded {
  github: GithubAppConfig;
  probot: Probot;
  oauth: { clientId: string; clientSecret: string } | null;
  slug: string | null;
  htmlUrl: string | null;
}

/**
 * Holds the GitHub App Runboard runs as, which may arrive after start (registered from the
 * dashboard, here or on another replica), so that everything reading it through
 * `probot()` picks it up without a restart.
 * @param app the Runboard Probot app, loaded into every Probot the holder builds.
 * @param Octokit tests pass one with retries and throttling off.
 */
export function createGithubAppHolder(deps: {
  pool: DatabasePool;
  config: Pick<Config, "github" | "oauth" | "secretKey" | "githubApiBaseUrl">;
  log: Logger;
  app: ApplicationFunction;
  Octokit?: typeof ProbotOctokit;
}): GithubAppHolder {
  const { config, log } = deps;
  const box: SecretBox | null = config.secretKey ? createSecretBox(config.secretKey, CREDENTIALS_KEY_INFO) : null;
  let current: Loaded | null = null;
  let refreshing: Promise<void> | null = null;

  const build = async (github: GithubAppConfig, stored: { slug: string; htmlUrl: string; oauth: Loaded["oauth"] } | null) => {
    const probot = createProbot(github, log, deps.Octokit);
    await probot.load(deps.app);
    return {
      github,
      probot,
      oauth: config.oauth ?? stored?.oauth ?? null,
      slug: stored?.slug ?? null,
      htmlUrl: stored?.htmlUrl ?? null,
    };
  };

  // The column and the app id are bound to each sealed value: a value copied into another
  // column or row does not open.
  const contextOf = (appId: number, column: string) => `app ${appId} ${column}`;

  const open = async (row: StoredAppCredentials): Promise<Loaded> => {
    if (!box) {
      throw new Error(
        "a GitHub App registered from the dashboard is stored, but SECRET_KEY is not set: set the SECRET_KEY it was stored with",
      );
    }
    let secrets: { privateKey: string; webhookSecret: string; clientSecret: string };
    try {
      secrets = {
        privateKey: box.open(row.private_key, contextOf(row.app_id, "private_key")),
        webhookSecret: box.open(row.webhook_secret, contextOf(row.app_id, "webhook_secret")),
        clientSecret: box.open(row.client_secret, contextOf(row.app_id, "client_secret")),
      };
    } catch (error) {
      throw new Error(
        `SECRET_KEY does not open the stored GitHub App credentials (app ${row.app_id}): set the SECRET_KEY they were stored with`,
        { cause: error },
      );
    }
    return build(
      { appId: row.app_id, privateKey: secrets.privateKey, webhookSecret: secrets.webhookSecret, apiBaseUrl: config.githubApiBaseUrl },
      { slug: row.slug, htmlUrl: row.html_url, oauth: { clientId: row.client_id, clientSecret: secrets.clientSecret } },
    );
  };

  const loadStored = async (): Promise<boolean> => {
    const row = await getAppCredentials(deps.pool);
    if (!row) return false;
    const loaded = await open(row);
    // A registration on this replica may have finished while the row was read.
    current ??= loaded;
    log.info({ appId: row.app_id, slug: row.slug }, "GitHub App loaded from the stored credentials");
    return true;
  };

  const refresh = (): Promise<void> => {
    if (current) return Promise.resolve();
    refreshing ??= loadStored()
      .then(() => undefined)
      .catch((error: unknown) => log.error({ err: error }, "could not load the stored GitHub App credentials"))
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  return {
    probot: () => current?.probot ?? null,
    github: () => current?.github ?? null,
    oauth: () => current?.oauth ?? config.oauth,
    slug: () => current?.slug ?? null,
    htmlUrl: () => current?.htmlUrl ?? null,
    canStore: () => box !== null,

    async load() {
      if (config.github) {
        current = await build(config.github, null);
        return;
      }
      if (!(await loadStored())) {
        log.warn(
          "no GitHub App configured: open /setup on the dashboard to connect one, or set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET; webhooks are refused until then",
        );
      }
    },

    refresh,

    async register(app) {
      if (config.github) {
        throw new AppAlreadyConfiguredError("a GitHub App is configured in the environment (APP_ID); it is not replaced from the web");
      }
      if (!box) throw new Error("SECRET_KEY is not set: registered credentials cannot be stored");
      // Built before anything is stored, so a failure here leaves no unusable row behind.
      const loaded = await build(
        { appId: app.appId, privateKey: app.privateKey, webhookSecret: app.webhookSecret, apiBaseUrl: config.githubApiBaseUrl },
        { slug: app.slug, htmlUrl: app.htmlUrl, oauth: { clientId: app.clientId, clientSecret: app.clientSecret } },
      );
      const stored = await insertAppCredentials(deps.pool, {
        app_id: app.appId,
        slug: app.slug,
        html_url: app.htmlUrl,
        client_id: app.clientId,
        private_key: box.seal(app.privateKey, contextOf(app.appId, "private_key")),
        webhook_secret: box.seal(app.webhookSecret, contextOf(app.appId, "webhook_secret")),
        client_secret: box.seal(app.clientSecret, contextOf(app.appId, "client_secret")),
      });
      if (!stored) {
        await refresh();
        throw new AppAlreadyConfiguredError(
          `another GitHub App was stored first (registered meanwhile, perhaps on another replica); app ${app.appId} (${app.htmlUrl}) is not used and can be deleted on GitHub`,
        );
      }
      current = loaded;
      log.info({ appId: app.appId, slug: app.slug }, "GitHub App registered and stored; webhooks are accepted from now on");
    },
  };
}
