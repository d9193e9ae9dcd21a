import type { Logger } from "pino";
import { ProbotOctokit, type ApplicationFunction, type Probot } from "probot";
import type { DatabasePool } from "slonik";
import type { Config, GithubAppConfig } from "../config.js";
import { createAppCredentialsStore, openedFromRegistered, type OpenedApp, type RegisteredApp } from "./app-credentials-store.js";
import { createProbot } from "./create-probot.js";

export type { RegisteredApp } from "./app-credentials-store.js";

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
 * dashboard, here or on another replica), so that everything reading it through `probot()`
 * picks it up without a restart. Its stored, sealed form is app-credentials-store.ts's.
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
  const store = createAppCredentialsStore({ pool: deps.pool, secretKey: config.secretKey, githubApiBaseUrl: config.githubApiBaseUrl });
  let current: Loaded | null = null;
  let refreshing: Promise<void> | null = null;

  const build = async (github: GithubAppConfig, stored: Omit<OpenedApp, "github"> | null): Promise<Loaded> => {
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

  const loadStored = async (): Promise<boolean> => {
    const opened = await store.read();
    if (!opened) return false;
    const loaded = await build(opened.github, opened);
    // A registration on this replica may have finished while the row was read.
    current ??= loaded;
    log.info({ appId: opened.github.appId, slug: opened.slug }, "GitHub App loaded from the stored credentials");
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
    canStore: () => store.canStore(),

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
      if (!store.canStore()) throw new Error("SECRET_KEY is not set: registered credentials cannot be stored");
      // Built before anything is stored, so a failure here leaves no unusable row behind.
      const opened = openedFromRegistered(app, config.githubApiBaseUrl);
      const loaded = await build(opened.github, opened);
      const stored = await store.save(app);
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
