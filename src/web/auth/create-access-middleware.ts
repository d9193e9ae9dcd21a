import type { Context, MiddlewareHandler } from "hono";
import { getSignedCookie } from "hono/cookie";
import { useApiToken } from "../../db/api-tokens.js";
import { deleteSession, findSession, updateSessionInstallations, type SessionRow } from "../../db/sessions.js";
import { setAccess, type Access } from "./access.js";
import { API_TOKEN_PREFIX, equalSecret, hashSecret } from "./auth-secrets.js";
import type { AuthDeps } from "./create-auth.js";
import { fetchUserInstallations, GithubOAuthError } from "./github-oauth.js";
import { SESSION_COOKIE, type LoginSettings } from "./login-settings.js";
import { clientAddress, failureLimit } from "./rate-limit.js";
import { refreshSessionToken } from "./refresh-session-token.js";

/** Invalid bearer tokens an address may send in a minute before it must wait. */
export const INVALID_TOKENS_PER_MINUTE = 30;

/** How long GitHub's answer to "which installations may this user see" is trusted. */
const INSTALLATIONS_TTL_MS = 5 * 60_000;
/** After a failed re-check (GitHub unreachable), the next try waits this long. */
const RECHECK_BACKOFF_MS = 60_000;
/** A token this close to its expiry is renewed before it is used. */
const TOKEN_EXPIRY_MARGIN_MS = 60_000;

export type AccessMiddlewareDeps = Pick<AuthDeps, "pool" | "log" | "now" | "webhookPath" | "apiToken" | "secretBox" | "endpoints" | "getOAuthClient"> & {
  settings: LoginSettings;
};

/** Paths that answer without a login: GitHub's and Slack's callers sign their own requests. */
function isPublic(path: string, webhookPath: string): boolean {
  return (
    path === webhookPath ||
    path === "/slack/events" ||
    path === "/health" ||
    path === "/openapi.json" ||
    path === "/favicon.ico" ||
    path.startsWith("/assets/") ||
    path === "/login" ||
    path === "/auth/github/callback" ||
    path === "/setup" ||
    path.startsWith("/setup/")
  );
}

const isApi = (path: string) => path.startsWith("/api/") || path === "/metrics";

/** `API_TOKEN`, or a user's token from the account page; null for anything else. */
async function bearerAccess(deps: AccessMiddlewareDeps, header: string): Promise<Access | null> {
  const token = header.replace(/^Bearer\s+/i, "").trim();
  if (deps.apiToken && equalSecret(token, deps.apiToken)) return { kind: "token", installationIds: null, login: null };
  if (!token.startsWith(API_TOKEN_PREFIX)) return null;
  const row = await useApiToken(deps.pool, hashSecret(token), deps.now());
  return row ? { kind: "token", installationIds: row.installation_ids, login: row.login } : null;
}

/** GitHub did not answer a refresh: the session keeps its last answer until the next check. */
class GithubUnavailableError extends Error {}

/**
 * The installations the session's user may see, asked of GitHub with their token. An expired
 * token (or one GitHub answers 401 to) is first renewed with the refresh token.
 * @returns null when the session has ended: the token was revoked, or the refresh token refused.
 * @throws GithubUnavailableError or another error when GitHub could not be asked.
 */
async function recheckInstallations(deps: AccessMiddlewareDeps, idHash: string, session: SessionRow, now: Date): Promise<number[] | null> {
  const secretBox = deps.secretBox!;
  let token = secretBox.open(session.access_token);
  let refreshed = false;
  const refresh = async (): Promise<boolean> => {
    const outcome = await refreshSessionToken({ ...deps, secretBox }, idHash, session.access_token);
    if (outcome.kind === "ended") return false;
    if (outcome.kind === "unavailable") throw new GithubUnavailableError(`could not refresh the user's GitHub token: ${outcome.reason}`);
    token = outcome.accessToken;
    refreshed = true;
    return true;
  };
  const expired = session.access_token_expires_at !== null && session.access_token_expires_at.getTime() - TOKEN_EXPIRY_MARGIN_MS <= now.getTime();
  if (expired && session.refresh_token !== null && !(await refresh())) return null;
  try {
    return await fetchUserInstallations(deps.endpoints, token);
  } catch (error) {
    const unauthorized = error instanceof GithubOAuthError && error.status === 401;
    if (!unauthorized) throw error;
    // Expired earlier than GitHub said, or revoked: a refresh tells which.
    if (!refreshed && session.refresh_token !== null) {
      if (!(await refresh())) return null;
      return await fetchUserInstallations(deps.endpoints, token).catch((again: unknown) => {
        if (again instanceof GithubOAuthError && again.status === 401) return null;
        throw again;
      });
    }
    return null;
  }
}

/**
 * The logged-in user of the session cookie, or null. What they may see is re-read from GitHub
 * once GitHub's last answer is older than INSTALLATIONS_TTL_MS, renewing their GitHub token
 * when it has expired. A revoked token or refused refresh token ends the session; GitHub not
 * answering does not: the last answer stands until the next try.
 */
async function sessionAccess(deps: AccessMiddlewareDeps, c: Context): Promise<Access | null> {
  const { cookieKey } = deps.settings;
  if (!cookieKey || !deps.secretBox) return null;
  const sessionId = await getSignedCookie(c, cookieKey, SESSION_COOKIE);
  if (!sessionId) return null;
  const idHash = hashSecret(sessionId);
  const now = deps.now();
  const session = await findSession(deps.pool, idHash, now);
  if (!session) return null;
  let installationIds = session.installation_ids;
  if (now.getTime() - session.installations_checked_at.getTime() > INSTALLATIONS_TTL_MS) {
    try {
      const fresh = await recheckInstallations(deps, idHash, session, now);
      if (fresh === null) {
        // The user revoked the app's authorization, or the refresh token was refused: log in again.
        await deleteSession(deps.pool, idHash, now);
        return null;
      }
      installationIds = fresh;
      await updateSessionInstallations(deps.pool, idHash, installationIds, now);
    } catch (error) {
      deps.log.warn(
        { err: error, login: session.login },
        "could not re-check the user's installations on GitHub; the last answer stands until the next try",
      );
      const retryAt = new Date(now.getTime() - INSTALLATIONS_TTL_MS + RECHECK_BACKOFF_MS);
      await updateSessionInstallations(deps.pool, idHash, installationIds, retryAt);
    }
  }
  return {
    kind: "user",
    viewer: { githubUserId: session.github_user_id, login: session.login },
    installationIds,
    csrfToken: session.csrf_token,
    sessionIdHash: idHash,
  };
}

/**
 * Decides who is asking, once per request (see access.ts): a bearer token (`API_TOKEN` or a
 * user's token), else a session cookie, else open access where no login or token is required.
 * Refuses what needs a login or a token: the API with 401, pages with a redirect to the login.
 */
export function createAccessMiddleware(deps: AccessMiddlewareDeps): MiddlewareHandler {
  const { settings } = deps;
  // Invalid bearer tokens per address: the API's own limit counts per token, which a guesser
  // changes every time.
  const tokenGuesses = failureLimit({ windowMs: 60_000, max: INVALID_TOKENS_PER_MINUTE, now: () => deps.now().getTime() });

  return async (c, next) => {
    const path = c.req.path;
    if (isPublic(path, deps.webhookPath)) return next();
    const authorization = c.req.header("authorization");
    let access: Access | null = null;
    if (authorization) {
      const address = clientAddress(c);
      const wait = tokenGuesses.retryAfter(address);
      if (wait !== null) {
        c.header("retry-after", String(wait));
        return c.json({ error: "too many invalid tokens from this address: try again after Retry-After seconds" }, 429);
      }
      access = await bearerAccess(deps, authorization);
      if (!access) {
        tokenGuesses.fail(address);
        c.header("www-authenticate", 'Bearer realm="runboard"');
        return c.json({ error: "the bearer token is not valid (revoked, or never issued here)" }, 401);
      }
    } else {
      access = await sessionAccess(deps, c);
    }
    if (!access) {
      if (isApi(path) && (settings.loginConfigured() || deps.apiToken)) {
        c.header("www-authenticate", 'Bearer realm="runboard"');
        return c.json({ error: "authentication required: send Authorization: Bearer <token>" }, 401);
      }
      if (!isApi(path) && settings.loginConfigured()) {
        const target = `/login?return_to=${encodeURIComponent(path + (new URL(c.req.url).search || ""))}`;
        if (c.req.header("hx-request") === "true" || path === "/events") {
          return c.json({ error: "log in first", login: target }, 401);
        }
        return c.redirect(target, 302);
      }
      access = { kind: "open" };
    }
    setAccess(c, access);
    await next();
  };
}
