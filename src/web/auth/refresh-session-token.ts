import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { claimSessionRefresh, deleteSession, readSessionRefresh, releaseSessionRefresh, saveRefreshedTokens } from "../../db/sessions.js";
import type { SecretBox } from "./create-auth.js";
import { refreshUserToken, RefreshTokenRefusedError, type GithubEndpoints, type OAuthClient } from "./github-oauth.js";

/** The sealing context of refresh tokens: a sealed refresh token never opens as an access token, nor the reverse. */
export const REFRESH_TOKEN_CONTEXT = "github refresh token";

/** How long one replica holds a session's refresh: GitHub's 10 s deadline, and room to store the answer. */
export const REFRESH_CLAIM_MS = 15_000;
const WAIT_STEP_MS = 100;

export interface RefreshDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  secretBox: SecretBox;
  endpoints: GithubEndpoints;
  getOAuthClient: () => OAuthClient | null;
  /** Waits between looks at another replica's refresh; tests may shorten it. */
  sleep?: (ms: number) => Promise<void>;
}

export type RefreshOutcome =
  /** A new token, from this replica's refresh or another's. */
  | { kind: "refreshed"; accessToken: string }
  /** GitHub refused the refresh token (revoked, expired, spent), or the session is gone: log in again. */
  | { kind: "ended" }
  /** GitHub did not answer (or another replica's refresh did not finish): the session stands until the next check. */
  | { kind: "unavailable"; reason: string };

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Renews a session's expired GitHub token with its refresh token. Refresh tokens are single-use,
 * so of the replicas that find the token expired at once, one claims the refresh in the database
 * (a statement of its own: no transaction or row lock is held while GitHub is asked) and calls
 * GitHub; the others wait for the token it stores. A claim whose holder died runs out after
 * {@link REFRESH_CLAIM_MS} and can be taken again.
 * @param seenAccessToken the sealed access token the caller found expired.
 */
export async function refreshSessionToken(deps: RefreshDeps, idHash: string, seenAccessToken: string): Promise<RefreshOutcome> {
  const client = deps.getOAuthClient();
  if (!client) return { kind: "unavailable", reason: "no OAuth client is configured" };
  const sleep = deps.sleep ?? sleepFor;
  const deadline = Date.now() + REFRESH_CLAIM_MS + 1_000;
  for (;;) {
    const now = deps.now();
    const sealed = await claimSessionRefresh(deps.pool, idHash, seenAccessToken, now, new Date(now.getTime() + REFRESH_CLAIM_MS));
    if (sealed !== null) return spend(deps, client, idHash, sealed);

    const current = await readSessionRefresh(deps.pool, idHash);
    if (!current) return { kind: "ended" };
    if (current.access_token !== seenAccessToken) return { kind: "refreshed", accessToken: deps.secretBox.open(current.access_token) };
    if (current.refresh_claimed_until === null) {
      // Released without a new token: GitHub did not answer the replica that tried.
      return { kind: "unavailable", reason: "another replica's refresh got no answer from GitHub" };
    }
    if (Date.now() > deadline) return { kind: "unavailable", reason: "another replica's refresh did not finish" };
    await sleep(WAIT_STEP_MS);
  }
}

/** Spends the claimed refresh token and stores what GitHub grants. */
async function spend(deps: RefreshDeps, client: OAuthClient, idHash: string, sealedRefreshToken: string): Promise<RefreshOutcome> {
  let refreshToken: string;
  try {
    refreshToken = deps.secretBox.open(sealedRefreshToken, REFRESH_TOKEN_CONTEXT);
  } catch (error) {
    // SECRET_KEY changed since the login: the token cannot be used.
    deps.log.warn({ err: error }, "a session's refresh token does not open with this SECRET_KEY; the user logs in again");
    await deleteSession(deps.pool, idHash, deps.now());
    return { kind: "ended" };
  }
  try {
    const tokens = await refreshUserToken(deps.endpoints, client, refreshToken, deps.now());
    await saveRefreshedTokens(deps.pool, idHash, {
      accessToken: deps.secretBox.seal(tokens.accessToken),
      refreshToken: tokens.refreshToken === null ? null : deps.secretBox.seal(tokens.refreshToken, REFRESH_TOKEN_CONTEXT),
      accessTokenExpiresAt: tokens.expiresAt,
    });
    return { kind: "refreshed", accessToken: tokens.accessToken };
  } catch (error) {
    if (error instanceof RefreshTokenRefusedError) {
      await deleteSession(deps.pool, idHash, deps.now());
      return { kind: "ended" };
    }
    await releaseSessionRefresh(deps.pool, idHash);
    return { kind: "unavailable", reason: error instanceof Error ? error.message : String(error) };
  }
}
