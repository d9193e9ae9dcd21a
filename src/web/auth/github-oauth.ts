import { createHash, randomBytes } from "node:crypto";

/** Where GitHub's OAuth pages and REST API are: github.com, or a GitHub Enterprise host. */
export interface GithubEndpoints {
  /** https://github.com, or GHE_PROTOCOL://GHE_HOST */
  webUrl: string;
  /** https://api.github.com, or GHE_PROTOCOL://GHE_HOST/api/v3 */
  apiUrl: string;
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

/** GitHub answered something other than what the flow needs; the message says what. */
export class GithubOAuthError extends Error {
  override name = "GithubOAuthError";
  constructor(
    message: string,
    /** GitHub's HTTP status, when it answered one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A PKCE verifier (43 characters of base64url) and its S256 challenge. */
export function createPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** The address of GitHub's authorize page for this login attempt. */
export function authorizeUrl(
  endpoints: GithubEndpoints,
  options: { clientId: string; redirectUri: string; state: string; codeChallenge: string },
): string {
  const url = new URL("/login/oauth/authorize", endpoints.webUrl);
  url.searchParams.set("client_id", options.clientId);
  url.searchParams.set("redirect_uri", options.redirectUri);
  url.searchParams.set("state", options.state);
  url.searchParams.set("code_challenge", options.codeChallenge);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("allow_signup", "false");
  return url.toString();
}

/**
 * A user's token as GitHub grants it. A GitHub App's user tokens expire (8 hours by default)
 * and come with a single-use refresh token; with expiry turned off in the app's settings,
 * neither expiry nor refresh token is given.
 */
export interface UserTokens {
  accessToken: string;
  refreshToken: string | null;
  /** null: the token does not expire. */
  expiresAt: Date | null;
}

/** GitHub refused a refresh token: revoked, expired or already spent. The user must log in again. */
export class RefreshTokenRefusedError extends GithubOAuthError {
  override name = "RefreshTokenRefusedError";
}

/** POSTs to GitHub's token endpoint and reads the tokens it grants. */
async function requestTokens(endpoints: GithubEndpoints, body: Record<string, string>, now: Date, refused: (reason: string) => GithubOAuthError): Promise<UserTokens> {
  const response = await fetch(new URL("/login/oauth/access_token", endpoints.webUrl), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.ok && typeof answer.access_token === "string") {
    return {
      accessToken: answer.access_token,
      refreshToken: typeof answer.refresh_token === "string" ? answer.refresh_token : null,
      expiresAt: typeof answer.expires_in === "number" ? new Date(now.getTime() + answer.expires_in * 1000) : null,
    };
  }
  // GitHub answers 200 with {error, error_description} for a bad or used code or refresh token.
  if (response.ok && typeof answer.error === "string") throw refused(answer.error);
  throw new GithubOAuthError(`GitHub's token endpoint answered HTTP ${response.status}`, response.status);
}

/** Exchanges the callback's code (with the PKCE verifier) for the user's tokens. */
export async function exchangeCode(
  endpoints: GithubEndpoints,
  client: OAuthClient,
  options: { code: string; redirectUri: string; codeVerifier: string; now: Date },
): Promise<UserTokens> {
  return requestTokens(
    endpoints,
    {
      client_id: client.clientId,
      client_secret: client.clientSecret,
      code: options.code,
      redirect_uri: options.redirectUri,
      code_verifier: options.codeVerifier,
    },
    options.now,
    (reason) => new GithubOAuthError(`GitHub refused the login code (${reason})`, 200),
  );
}

/**
 * Trades a refresh token for a new access token and a new refresh token (the old one is spent).
 * @throws RefreshTokenRefusedError when GitHub refuses it (`bad_refresh_token`: revoked, expired, used);
 *   GithubOAuthError or a network error when GitHub did not answer properly.
 */
export async function refreshUserToken(endpoints: GithubEndpoints, client: OAuthClient, refreshToken: string, now: Date): Promise<UserTokens> {
  return requestTokens(
    endpoints,
    { client_id: client.clientId, client_secret: client.clientSecret, grant_type: "refresh_token", refresh_token: refreshToken },
    now,
    // Only a refused token ends the session: another error (a rotated client secret, say) is
    // the app's to fix, and its users stay logged in until it is.
    (reason) =>
      reason === "bad_refresh_token"
        ? new RefreshTokenRefusedError(`GitHub refused the refresh token (${reason})`, 200)
        : new GithubOAuthError(`GitHub's token endpoint refused the refresh (${reason})`, 200),
  );
}

async function getJson(endpoints: GithubEndpoints, token: string, path: string): Promise<unknown> {
  const response = await fetch(new URL(path.replace(/^\//, ""), `${endpoints.apiUrl.replace(/\/+$/, "")}/`), {
    headers: { accept: "application/vnd.github+json", authorization: `Bearer ${token}`, "x-github-api-version": "2022-11-28" },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new GithubOAuthError(`GitHub answered ${response.status} to GET ${path.replace(/\?.*/, "")}`, response.status);
  }
  return response.json();
}

/** The user the token belongs to. */
export async function fetchUser(endpoints: GithubEndpoints, token: string): Promise<{ id: number; login: string }> {
  const user = (await getJson(endpoints, token, "/user")) as { id?: unknown; login?: unknown };
  if (typeof user.id !== "number" || typeof user.login !== "string") {
    throw new GithubOAuthError("GitHub's /user answer has no id and login");
  }
  return { id: user.id, login: user.login };
}

/**
 * The ids of this app's installations that the user can reach on GitHub (GitHub answers this
 * for a GitHub App's user token: installations on accounts they own or are a member of, with
 * access to at least one repository). At most 1,000.
 */
export async function fetchUserInstallations(endpoints: GithubEndpoints, token: string): Promise<number[]> {
  const ids: number[] = [];
  for (let page = 1; page <= 10; page++) {
    const body = (await getJson(endpoints, token, `/user/installations?per_page=100&page=${page}`)) as {
      installations?: Array<{ id?: unknown }>;
    };
    const installations = body.installations ?? [];
    for (const installation of installations) {
      if (typeof installation.id === "number") ids.push(installation.id);
    }
    if (installations.length < 100) break;
  }
  return ids;
}
