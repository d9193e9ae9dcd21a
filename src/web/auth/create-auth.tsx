import { createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { html } from "hono/html";
import { HTTPException } from "hono/http-exception";
import type { Child } from "hono/jsx";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { z } from "zod";
import { AccountPage, LoginProblemPage } from "../../../views/account-page.js";
import { insertApiToken, listApiTokens, revokeApiToken, useApiToken } from "../../db/api-tokens.js";
import { deleteSession, findSession, insertSession, updateSessionInstallations } from "../../db/sessions.js";
import { accessOf, setAccess, type Access } from "./access.js";
import {
  authorizeUrl,
  createPkce,
  exchangeCode,
  fetchUser,
  fetchUserInstallations,
  GithubOAuthError,
  type GithubEndpoints,
  type OAuthClient,
} from "./github-oauth.js";
import { clientAddress, failureLimit, rateLimit } from "./rate-limit.js";

/** Invalid bearer tokens an address may send in a minute before it must wait. */
export const INVALID_TOKENS_PER_MINUTE = 30;

/** Login attempts an address may start in a minute. */
export const LOGINS_PER_MINUTE = 30;

const SESSION_COOKIE = "runboard_session";
const LOGIN_COOKIE = "runboard_login";
const SESSION_TTL_MS = 7 * 86_400_000;
const LOGIN_TTL_SECONDS = 600;
/** How long GitHub's answer to "which installations may this user see" is trusted. */
const INSTALLATIONS_TTL_MS = 5 * 60_000;
/** After a failed re-check (GitHub unreachable), the next try waits this long. */
const RECHECK_BACKOFF_MS = 60_000;
const TOKEN_PREFIX = "rbt_";

/** Seals secrets stored in Postgres (the user's GitHub token) with a key from the environment. */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
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

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A return address on this site only: a path, never `//host` or a full URL. */
export function safeReturnTo(value: string | undefined): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\") || /[\r\n]/.test(value)) return "/";
  return value;
}

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

/**
 * Dashboard login with GitHub (the app's OAuth client, `state` checked, PKCE), sessions in
 * signed cookies backed by Postgres, bearer tokens for the API, CSRF checks and rate limits.
 *
 * With no login configured every page is open (start refuses a non-loopback HOST then, unless
 * TRUST_PROXY_AUTH); the API is open too unless `API_TOKEN` is set.
 */
export function createAuth(deps: AuthDeps): Auth {
  const cookieKey = deps.secretKey
    ? Buffer.from(hkdfSync("sha256", deps.secretKey, "", "runboard session cookies", 32)).toString("base64")
    : null;
  const secureCookies = new URL(deps.baseUrl).protocol === "https:" || isLoopbackUrl(deps.baseUrl);
  const redirectUri = `${deps.baseUrl}/auth/github/callback`;
  const loginConfigured = () => cookieKey !== null && deps.secretBox !== null && deps.getOAuthClient() !== null;

  const bearerAccess = async (header: string): Promise<Access | null> => {
    const token = header.replace(/^Bearer\s+/i, "").trim();
    if (deps.apiToken && equalText(token, deps.apiToken)) return { kind: "token", installationIds: null, login: null };
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const row = await useApiToken(deps.pool, sha256(token), deps.now());
    return row ? { kind: "token", installationIds: row.installation_ids, login: row.login } : null;
  };

  const sessionAccess = async (c: Context): Promise<Access | null> => {
    if (!cookieKey || !deps.secretBox) return null;
    const sessionId = await getSignedCookie(c, cookieKey, SESSION_COOKIE);
    if (!sessionId) return null;
    const idHash = sha256(sessionId);
    const now = deps.now();
    const session = await findSession(deps.pool, idHash, now);
    if (!session) return null;
    let installationIds = session.installation_ids;
    if (now.getTime() - session.installations_checked_at.getTime() > INSTALLATIONS_TTL_MS) {
      try {
        installationIds = await fetchUserInstallations(deps.endpoints, deps.secretBox.open(session.access_token));
        await updateSessionInstallations(deps.pool, idHash, installationIds, now);
      } catch (error) {
        if (error instanceof GithubOAuthError && error.status === 401) {
          // The user revoked the app's authorization, or the token expired: log in again.
          await deleteSession(deps.pool, idHash, now);
          return null;
        }
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
  };

  // Invalid bearer tokens per address: the API's own limit counts per token, which a guesser
  // changes every time.
  const tokenGuesses = failureLimit({ windowMs: 60_000, max: INVALID_TOKENS_PER_MINUTE, now: () => deps.now().getTime() });

  const middleware: MiddlewareHandler = async (c, next) => {
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
      access = await bearerAccess(authorization);
      if (!access) {
        tokenGuesses.fail(address);
        c.header("www-authenticate", 'Bearer realm="runboard"');
        return c.json({ error: "the bearer token is not valid (revoked, or never issued here)" }, 401);
      }
    } else {
      access = await sessionAccess(c);
    }
    if (!access) {
      if (isApi(path) && (loginConfigured() || deps.apiToken)) {
        c.header("www-authenticate", 'Bearer realm="runboard"');
        return c.json({ error: "authentication required: send Authorization: Bearer <token>" }, 401);
      }
      if (!isApi(path) && loginConfigured()) {
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

  const csrf: MiddlewareHandler = async (c, next) => {
    const method = c.req.method;
    const path = c.req.path;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS" || path === deps.webhookPath || path === "/slack/events") {
      return next();
    }
    const origin = c.req.header("origin");
    const allowed = new Set([new URL(deps.baseUrl).origin, new URL(c.req.url).origin]);
    const site = c.req.header("sec-fetch-site");
    if ((origin && !allowed.has(origin)) || (site && site !== "same-origin" && site !== "none")) {
      throw new HTTPException(403, { message: "cross-site request refused" });
    }
    const access = accessOf(c);
    if (access.kind === "user") {
      // A browser session sends its cookie everywhere: prove the form came from our page.
      let token = c.req.header("x-csrf-token");
      if (!token && /^(application\/x-www-form-urlencoded|multipart\/form-data)/.test(c.req.header("content-type") ?? "")) {
        const value = (await c.req.parseBody())["_csrf"];
        token = typeof value === "string" ? value : undefined;
      }
      if (!token || !equalText(token, access.csrfToken)) {
        throw new HTTPException(403, { message: "missing or stale CSRF token: reload the page and try again" });
      }
    }
    await next();
  };

  const routes = new Hono();
  const loginLimit = rateLimit({ windowMs: 60_000, max: LOGINS_PER_MINUTE, key: (c) => `login:${clientAddress(c)}` });
  const page = (c: Context, node: Child, status: 200 | 400 | 404 = 200) => c.html(html`<!DOCTYPE html>${node}`, status);
  const nonceOf = (c: Context) => (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";

  routes.get("/login", loginLimit, async (c) => {
    const client = deps.getOAuthClient();
    if (!loginConfigured() || !client) {
      return page(
        c,
        <LoginProblemPage nonce={nonceOf(c)} title="Login is not configured">
          Set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and SECRET_KEY (or connect the GitHub App from the overview), then
          restart Runboard.
        </LoginProblemPage>,
        404,
      );
    }
    const state = randomBytes(24).toString("base64url");
    const pkce = createPkce();
    const returnTo = safeReturnTo(c.req.query("return_to"));
    await setSignedCookie(c, LOGIN_COOKIE, JSON.stringify({ state, verifier: pkce.verifier, returnTo }), cookieKey!, {
      httpOnly: true,
      secure: secureCookies,
      sameSite: "Lax",
      path: "/auth/github",
      maxAge: LOGIN_TTL_SECONDS,
    });
    return c.redirect(
      authorizeUrl(deps.endpoints, { clientId: client.clientId, redirectUri, state, codeChallenge: pkce.challenge }),
      302,
    );
  });

  const loginAttempt = z.object({ state: z.string(), verifier: z.string(), returnTo: z.string() });

  routes.get("/auth/github/callback", loginLimit, async (c) => {
    const client = deps.getOAuthClient();
    if (!loginConfigured() || !client) throw new HTTPException(404, { message: "login is not configured" });
    const problem = (text: string) =>
      page(
        c,
        <LoginProblemPage nonce={nonceOf(c)} title="Login did not complete">
          {text} <a href="/login">Log in again</a>.
        </LoginProblemPage>,
        400,
      );
    const cookie = await getSignedCookie(c, cookieKey!, LOGIN_COOKIE);
    deleteCookie(c, LOGIN_COOKIE, { path: "/auth/github", secure: secureCookies });
    const attempt = cookie ? loginAttempt.safeParse(JSON.parse(cookie)) : null;
    const { code, state, error } = c.req.query();
    if (error) return problem(`GitHub answered: ${error}.`);
    if (!attempt?.success || !state || !equalText(state, attempt.data.state)) {
      return problem("This login expired, or it was started in another browser.");
    }
    if (!code) return problem("GitHub sent no code.");

    let accessToken: string;
    let user: { id: number; login: string };
    let installationIds: number[];
    try {
      accessToken = await exchangeCode(deps.endpoints, client, { code, redirectUri, codeVerifier: attempt.data.verifier });
      user = await fetchUser(deps.endpoints, accessToken);
      installationIds = await fetchUserInstallations(deps.endpoints, accessToken);
    } catch (err) {
      deps.log.warn({ err }, "GitHub login failed; check GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET and the app's callback URL");
      return problem(err instanceof GithubOAuthError ? `${err.message}.` : "GitHub could not be reached.");
    }
    const sessionId = randomBytes(32).toString("base64url");
    const now = deps.now();
    await insertSession(deps.pool, {
      idHash: sha256(sessionId),
      github_user_id: user.id,
      login: user.login,
      access_token: deps.secretBox!.seal(accessToken),
      installation_ids: installationIds,
      installations_checked_at: now,
      csrf_token: randomBytes(24).toString("base64url"),
      expires_at: new Date(now.getTime() + SESSION_TTL_MS),
    });
    await setSignedCookie(c, SESSION_COOKIE, sessionId, cookieKey!, {
      httpOnly: true,
      secure: secureCookies,
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
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secureCookies });
    return c.redirect("/", 303);
  });

  const accountPage = async (c: Context, created?: { name: string; token: string }) => {
    const access = accessOf(c);
    const tokens = access.kind === "user" ? await listApiTokens(deps.pool, access.viewer.githubUserId) : [];
    return page(c, <AccountPage nonce={nonceOf(c)} access={access} loginConfigured={loginConfigured()} tokens={tokens} created={created} />);
  };

  routes.get("/account", (c) => accountPage(c));

  const tokenForm = z.object({ name: z.string().trim().min(1, "give the token a name").max(100) });

  routes.post("/account/tokens", async (c) => {
    const access = accessOf(c);
    if (access.kind !== "user") throw new HTTPException(403, { message: "log in to create API tokens" });
    const form = tokenForm.safeParse(await c.req.parseBody());
    if (!form.success) throw new HTTPException(400, { message: form.error.issues[0]!.message });
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    await insertApiToken(deps.pool, {
      tokenHash: sha256(token),
      name: form.data.name,
      githubUserId: access.viewer.githubUserId,
      login: access.viewer.login,
      installationIds: [...access.installationIds],
    });
    return accountPage(c, { name: form.data.name, token });
  });

  routes.post("/account/tokens/:id{[0-9]+}/revoke", async (c) => {
    const access = accessOf(c);
    if (access.kind !== "user") throw new HTTPException(403, { message: "log in to revoke API tokens" });
    if (!(await revokeApiToken(deps.pool, access.viewer.githubUserId, Number(c.req.param("id")), deps.now()))) {
      throw new HTTPException(404, { message: "no such token" });
    }
    return c.redirect("/account", 303);
  });

  return { middleware, csrf, routes, loginConfigured };
}

/** Whether an address is this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

function isLoopbackUrl(url: string): boolean {
  return isLoopbackHost(new URL(url).hostname);
}
