import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";

/** A dashboard user, logged in with GitHub. */
export interface Viewer {
  githubUserId: number;
  login: string;
}

/**
 * Who is asking, and what they may see:
 * - `open`: no login is configured (loopback, or an authenticating proxy in front): everything;
 * - `user`: a logged-in GitHub user: the installations GitHub says they can reach;
 * - `token`: a bearer token: `API_TOKEN` sees everything (`installationIds` null), a user's
 *   token the installations it was scoped to.
 */
export type Access =
  | { kind: "open" }
  | { kind: "user"; viewer: Viewer; installationIds: readonly number[]; csrfToken: string; sessionIdHash: string }
  | { kind: "token"; installationIds: readonly number[] | null; login: string | null };

const ACCESS_KEY = "runboardAccess";

/** Records the request's access (the auth middleware does this once per request). */
export function setAccess(c: Context, access: Access): void {
  c.set(ACCESS_KEY as never, access as never);
}

/** The request's access; `open` where no auth middleware ran (tests of single route groups). */
export function accessOf(c: Context): Access {
  return (c.get(ACCESS_KEY as never) as Access | undefined) ?? { kind: "open" };
}

/**
 * The installations whose data this request may read, or null for all of them. Queries take
 * it as their `installations` filter; a build outside it is answered as if it did not exist.
 */
export function scopeOf(c: Context): readonly number[] | null {
  const access = accessOf(c);
  if (access.kind === "open") return null;
  return access.installationIds;
}

/** The logged-in user, or null (open access and tokens have none). */
export function viewerOf(c: Context): Viewer | null {
  const access = accessOf(c);
  return access.kind === "user" ? access.viewer : null;
}

/** Settings shared by every installation (alert rules) change only with unscoped access. */
export function requireUnscoped(c: Context): void {
  if (scopeOf(c) !== null) {
    throw new HTTPException(403, {
      message: "these settings are shared by every installation: change them with API_TOKEN, or where no login is configured",
    });
  }
}
