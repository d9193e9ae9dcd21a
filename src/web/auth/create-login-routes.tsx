import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { LoginProblemPage } from "../../../views/account-page.js";
import { deleteSession, insertSession } from "../../db/sessions.js";
import { cspNonce, renderPage } from "../render-page.js";
import { accessOf } from "./access.js";
import { equalSecret, hashSecret } from "./auth-secrets.js";
import type { AuthDeps } from "./create-auth.js";
import { authorizeUrl, createPkce, exchangeCode, fetchUser, fetchUserInstallations, GithubOAuthError, type UserTokens } from "./github-oauth.js";
import { REFRESH_TOKEN_CONTEXT } from "./refresh-session-token.js";
import { SESSION_COOKIE, type LoginSettings } from "./login-settings.js";
import { clientAddress, rateLimit } from "./rate-limit.js";

/** Login attempts an address may start in a minute. */
export const LOGINS_PER_MINUTE = 30;

/** Carries one login attempt's state, PKCE verifier and return address from /login to the callback. */
const LOGIN_COOKIE = "runboard_login";
const LOGIN_TTL_SECONDS = 600;
const SESSION_TTL_MS = 7 * 86_400_000;

export type LoginRouteDeps = Pick<AuthDeps, "pool" | "log" | "now" | "baseUrl" | "secretBox" | "endpoints" | "getOAuthClient"> & {
  settings: LoginSettings;
};

/** A return address on this site only: a path, never `//host` or a full URL. */
export function safeReturnTo(value: string | undefined): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\") || /[\r\n]/.test(value)) return "/";
  return value;
}

const loginAttempt = z.object({ state: z.string(), verifier: z.string(), returnTo: z.string() });

/**
 * /login, /auth/github/callback and /logout: GitHub login with the app's OAuth client (`state`
 * checked, PKCE), then a session in Postgres behind a signed cookie.
 */
export function createLoginRoutes(deps: LoginRouteDeps): Hono {
  const { settings } = deps;
  const redirectUri = `${deps.baseUrl}/auth/github/callback`;
  const routes = new Hono();
  const loginLimit = rateLimit({ windowMs: 60_000, max: LOGINS_PER_MINUTE, key: (c) => `login:${clientAddress(c)}` });

  routes.get("/login", loginLimit, async (c) => {
    const client = deps.getOAuthClient();
    if (!settings.loginConfigured() || !client) {
      return renderPage(
        c,
        <LoginProblemPage nonce={cspNonce(c)} title="Login is not configured">
          Set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and SECRET_KEY (or connect the GitHub App from the overview), then
          restart Runboard.
        </LoginProblemPage>,
        404,
      );
    }
    const state = randomBytes(24).toString("base64url");
    const pkce = createPkce();
    const returnTo = safeReturnTo(c.req.query("return_to"));
    await setSignedCookie(c, LOGIN_COOKIE, JSON.stringify({ state, verifier: pkce.verifier, returnTo }), settings.cookieKey!, {
      httpOnly: true,
      secure: settings.secureCookies,
      sameSite: "Lax",
      path: "/auth/github",
      maxAge: LOGIN_TTL_SECONDS,
    });
    return c.redirect(
      authorizeUrl(deps.endpoints, { clientId: client.clientId, redirectUri, state, codeChallenge: pkce.challenge }),
      302,
    );
  });

  routes.get("/auth/github/callback", loginLimit, async (c) => {
    const client = deps.getOAuthClient();
    if (!settings.loginConfigured() || !client) throw new HTTPException(404, { message: "login is not configured" });
    const problem = (text: string) =>
      renderPage(
        c,
        <LoginProblemPage nonce={cspNonce(c)} title="Login did not complete">
          {text} <a href="/login">Log in again</a>.
        </LoginProblemPage>,
        400,
      );
    const cookie = await getSignedCookie(c, settings.cookieKey!, LOGIN_COOKIE);
    deleteCookie(c, LOGIN_COOKIE, { path: "/auth/github", secure: settings.secureCookies });
    const attempt = cookie ? loginAttempt.safeParse(JSON.parse(cookie)) : null;
    const { code, state, error } = c.req.query();
    if (error) return problem(`GitHub answered: ${error}.`);
    if (!attempt?.success || !state || !equalSecret(state, attempt.data.state)) {
      return problem("This login expired, or it was started in another browser.");
    }
    if (!code) return problem("GitHub sent no code.");

    let tokens: UserTokens;
    let user: { id: number; login: string };
    let installationIds: number[];
    try {
      tokens = await exchangeCode(deps.endpoints, client, { code, redirectUri, codeVerifier: attempt.data.verifier, now: deps.now() });
      user = await fetchUser(deps.endpoints, tokens.accessToken);
      installationIds = await fetchUserInstallations(deps.endpoints, tokens.accessToken);
    } catch (err) {
      deps.log.warn({ err }, "GitHub login failed; check GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET and the app's callback URL");
      return problem(err instanceof GithubOAuthError ? `${err.message}.` : "GitHub could not be reached.");
    }
    const sessionId = randomBytes(32).toString("base64url");
    const now = deps.now();
    await insertSession(deps.pool, {
      idHash: hashSecret(sessionId),
      github_user_id: user.id,
      login: user.login,
      access_token: deps.secretBox!.seal(tokens.accessToken),
      refresh_token: tokens.refreshToken === null ? null : deps.secretBox!.seal(tokens.refreshToken, REFRESH_TOKEN_CONTEXT),
      access_token_expires_at: tokens.expiresAt,
      installation_ids: installationIds,
      installations_checked_at: now,
      csrf_token: randomBytes(24).toString("base64url"),
      expires_at: new Date(now.getTime() + SESSION_TTL_MS),
    });
    await setSignedCookie(c, SESSION_COOKIE, sessionId, settings.cookieKey!, {
      httpOnly: true,
      secure: settings.secureCookies,
      sameSite: "Lax",
      path: "/",
      maxAge: SESSION_TTL_MS / 1000,
    });
    deps.log.info({ login: user.login, installations: installationIds.length }, "user logged in");
    return c.redirect(safeReturnTo(attempt.data.returnTo), 302);
  });

  routes.post("/logout", async (c) => {
    const access = accessOf(c);
    if (access.kind === "user") await deleteSession(deps.pool, access.sessionIdHash, deps.now());
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: settings.secureCookies });
    return c.redirect("/", 303);
  });

  return routes;
}
