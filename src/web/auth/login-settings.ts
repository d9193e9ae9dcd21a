import { hkdfSync } from "node:crypto";
import type { AuthDeps } from "./create-auth.js";
import { isLoopbackHost } from "./is-loopback-host.js";

/** The signed cookie that carries a session id. */
export const SESSION_COOKIE = "runboard_session";

/** What the login, the session check and the account page share. */
export interface LoginSettings {
  /** Signs the session and login cookies; null without `SECRET_KEY`. */
  cookieKey: string | null;
  /** Whether cookies are marked Secure: on https, and on loopback, where browsers keep them over http. */
  secureCookies: boolean;
  /** Whether a dashboard login is configured right now. */
  loginConfigured(): boolean;
}

/**
 * Derives the login settings once. The OAuth client is asked for at each call of
 * `loginConfigured`: "Connect to GitHub" can store one while the process runs.
 */
export function createLoginSettings(deps: Pick<AuthDeps, "secretKey" | "secretBox" | "baseUrl" | "getOAuthClient">): LoginSettings {
  // A key of its own: the secret boxes derive theirs from SECRET_KEY with other labels, so no two uses share one.
  const cookieKey = deps.secretKey
    ? Buffer.from(hkdfSync("sha256", deps.secretKey, "", "runboard session cookies", 32)).toString("base64")
    : null;
  const base = new URL(deps.baseUrl);
  const secureCookies = base.protocol === "https:" || isLoopbackHost(base.hostname);
  return {
    cookieKey,
    secureCookies,
    loginConfigured: () => cookieKey !== null && deps.secretBox !== null && deps.getOAuthClient() !== null,
  };
}
