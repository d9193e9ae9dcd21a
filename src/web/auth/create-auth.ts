import { Hono, type MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { createAccessMiddleware } from "./create-access-middleware.js";
import { createAccountRoutes } from "./create-account-routes.js";
import { createCsrfCheck } from "./create-csrf-check.js";
import { createLoginRoutes } from "./create-login-routes.js";
import type { GithubEndpoints, OAuthClient } from "./github-oauth.js";
import { createLoginSettings } from "./login-settings.js";

// The start checks HOST with the same rule that marks cookies Secure on loopback.
export { isLoopbackHost } from "./is-loopback-host.js";

/** Seals secrets stored in Postgres (the user's GitHub token) with a key from the environment. */
export interface SecretBox {
  /** `context` binds the sealed value to its use: it opens only with the same context. */
  seal(plain: string, context?: string): string;
  open(sealed: string, context?: string): string;
}

export interface AuthDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  webhookPath: string;
  /** `API_TOKEN`: a bearer token that reads everything. */
  apiToken: string | null;
  /** `SECRET_KEY`; login needs it (cookie signing, the sealed user tokens). */
  secretKey: string | null;
  secretBox: SecretBox | null;
  endpoints: GithubEndpoints;
  /** The app's OAuth client (environment, or stored by "Connect to GitHub"), null without one. */
  getOAuthClient: () => OAuthClient | null;
}

export interface Auth {
  /** Decides every request's access (see access.ts), refusing what needs a login or a token. */
  middleware: MiddlewareHandler;
  /** Refuses cross-site and unproven state-changing requests. */
  csrf: MiddlewareHandler;
  /** /login, /auth/github/callback, /logout, /account. */
  routes: Hono;
  /** Whether a dashboard login is configured right now. */
  loginConfigured(): boolean;
}

/**
 * Dashboard login with GitHub (the app's OAuth client, `state` checked, PKCE), sessions in
 * signed cookies backed by Postgres, bearer tokens for the API, CSRF checks and rate limits.
 *
 * With no login configured every page is open (start refuses a non-loopback HOST then, unless
 * TRUST_PROXY_AUTH); the API is open too unless `API_TOKEN` is set.
 */
export function createAuth(deps: AuthDeps): Auth {
  const settings = createLoginSettings(deps);
  const routes = new Hono()
    .route("/", createLoginRoutes({ ...deps, settings }))
    .route("/", createAccountRoutes({ ...deps, settings }));
  return {
    middleware: createAccessMiddleware({ ...deps, settings }),
    csrf: createCsrfCheck(deps),
    routes,
    loginConfigured: settings.loginConfigured,
  };
}
