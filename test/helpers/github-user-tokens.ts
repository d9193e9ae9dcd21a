import { randomBytes } from "node:crypto";
import type { GithubAnswer, GithubCall, GithubHandler } from "./github-stand-in.js";

/** GitHub Apps' default lifetimes: user tokens 8 hours, refresh tokens 6 months. */
export const USER_TOKEN_SECONDS = 8 * 3600;
export const REFRESH_TOKEN_SECONDS = 184 * 86_400;

export interface GithubUser {
  id: number;
  login: string;
  installationIds: number[];
}

/**
 * GitHub's OAuth side for a GitHub App with expiring user tokens, as a stand-in handler (web and
 * API on one host, as on GitHub Enterprise): login codes become a token that expires after
 * 8 hours and a single-use refresh token; an expired, unknown or revoked token gets 401 from the
 * API; a spent, expired or revoked refresh token gets GitHub's `bad_refresh_token` answer.
 * `hold` keeps refresh answers waiting until released; `down` answers the token endpoint 503.
 */
export function githubUserTokens(options: { now: () => Date; clientId: string; clientSecret: string }) {
  const codes = new Map<string, GithubUser>();
  const tokens = new Map<string, { user: GithubUser; expiresAt: number }>();
  const refreshTokens = new Map<string, { user: GithubUser; expiresAt: number; spent: boolean }>();
  const revoked = new Set<number>();
  let held: Promise<void> | null = null;
  let down = false;

  const grant = (user: GithubUser): GithubAnswer => {
    const now = options.now().getTime();
    const accessToken = `ghu_${randomBytes(12).toString("hex")}`;
    const refreshToken = `ghr_${randomBytes(12).toString("hex")}`;
    tokens.set(accessToken, { user, expiresAt: now + USER_TOKEN_SECONDS * 1000 });
    refreshTokens.set(refreshToken, { user, expiresAt: now + REFRESH_TOKEN_SECONDS * 1000, spent: false });
    return {
      status: 200,
      body: {
        access_token: accessToken,
        expires_in: USER_TOKEN_SECONDS,
        refresh_token: refreshToken,
        refresh_token_expires_in: REFRESH_TOKEN_SECONDS,
        token_type: "bearer",
        scope: "",
      },
    };
  };

  const userOf = (call: GithubCall): GithubUser | null => {
    const header = call.headers.authorization;
    const token = typeof header === "string" ? header.replace(/^Bearer /, "") : "";
    const known = tokens.get(token);
    if (!known || known.expiresAt <= options.now().getTime() || revoked.has(known.user.id)) return null;
    return known.user;
  };

  const handler: GithubHandler = async (call) => {
    const path = call.path.split("?", 1)[0];
    if (call.method === "POST" && path === "/login/oauth/access_token") {
      if (down) return { status: 503, body: { message: "Service Unavailable" } };
      const body = call.body as Record<string, string>;
      if (body.client_id !== options.clientId || body.client_secret !== options.clientSecret) {
        return { status: 200, body: { error: "incorrect_client_credentials" } };
      }
      if (body.grant_type === "refresh_token") {
        const known = refreshTokens.get(body.refresh_token ?? "");
        // Spent on arrival: a second use of the same refresh token is refused even while the first waits.
        const usable = known && !known.spent && known.expiresAt > options.now().getTime() && !revoked.has(known.user.id);
        if (known) known.spent = true;
        if (held) await held;
        if (!usable) {
          return { status: 200, body: { error: "bad_refresh_token", error_description: "The refresh token passed is incorrect or expired." } };
        }
        return grant(known.user);
      }
      const user = codes.get(body.code ?? "");
      codes.delete(body.code ?? "");
      return user ? grant(user) : { status: 200, body: { error: "bad_verification_code" } };
    }
    if (call.method === "GET" && (path === "/user" || path === "/user/installations")) {
      const user = userOf(call);
      if (!user) return { status: 401, body: { message: "Bad credentials" } };
      return path === "/user"
        ? { status: 200, body: { id: user.id, login: user.login } }
        : { status: 200, body: { total_count: user.installationIds.length, installations: user.installationIds.map((id) => ({ id })) } };
    }
    return { status: 404, body: { message: "Not Found" } };
  };

  return {
    handler,
    /** A login code GitHub would hand the callback for this user. */
    code(user: GithubUser): string {
      const code = randomBytes(8).toString("hex");
      codes.set(code, user);
      return code;
    },
    /** The user revokes the app's authorization: their tokens and refresh tokens stop working. */
    revoke(userId: number) {
      revoked.add(userId);
    },
    /** Refresh answers wait until the returned function is called. */
    hold(): () => void {
      let release!: () => void;
      held = new Promise<void>((resolve) => (release = resolve));
      return () => {
        held = null;
        release();
      };
    },
    /** GitHub's token endpoint answers 503 while true. */
    setDown(value: boolean) {
      down = value;
    },
  };
}
