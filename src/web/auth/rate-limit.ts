import { createHash } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";

/** The client's address (behind a proxy, every user shares the proxy's). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    // No socket: a request made in-process (app.request).
    return "local";
  }
}

/** One bucket per bearer token (hashed, so no token sits in memory as a key), else per address. */
export function tokenOrAddress(c: Context): string {
  const authorization = c.req.header("authorization");
  return authorization ? `t:${createHash("sha256").update(authorization).digest("base64url")}` : `a:${clientAddress(c)}`;
}

/**
 * A fixed-window request limit per key, in this process's memory: with several replicas each
 * counts its own share, which is enough to blunt a flood of logins or API calls.
 * Answers 429 with Retry-After once a key has used its `max` requests in the window.
 */
export function rateLimit(options: {
  windowMs: number;
  max: number;
  key: (c: Context) => string;
  now?: () => number;
}): MiddlewareHandler {
  const now = options.now ?? Date.now;
  const windows = new Map<string, { count: number; resetAt: number }>();
  return async (c, next) => {
    const at = now();
    if (windows.size > 10_000) {
      for (const [key, window] of windows) if (window.resetAt <= at) windows.delete(key);
    }
    const key = options.key(c);
    let window = windows.get(key);
    if (!window || window.resetAt <= at) {
      window = { count: 0, resetAt: at + options.windowMs };
      windows.set(key, window);
    }
    window.count += 1;
    if (window.count > options.max) {
      c.header("retry-after", String(Math.ceil((window.resetAt - at) / 1000)));
      return c.json({ error: "too many requests: slow down and try again after Retry-After seconds" }, 429);
    }
    await next();
  };
}

/**
 * Counts failures (such as invalid bearer tokens) per key in a fixed window. Once a key has
 * failed `max` times, it is refused until the window ends, whatever it sends: a guesser who
 * varies the token each time still meets the limit of its address.
 */
export function failureLimit(options: { windowMs: number; max: number; now: () => number }) {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const current = (key: string) => {
    const window = windows.get(key);
    return window && window.resetAt > options.now() ? window : null;
  };
  return {
    /** Seconds until `key` may try again, or null while it is under the limit. */
    retryAfter(key: string): number | null {
      const window = current(key);
      return window && window.count >= options.max ? Math.ceil((window.resetAt - options.now()) / 1000) : null;
    },
    fail(key: string): void {
      const at = options.now();
      if (windows.size > 10_000) {
        for (const [k, w] of windows) if (w.resetAt <= at) windows.delete(k);
      }
      const window = current(key) ?? { count: 0, resetAt: at + options.windowMs };
      window.count += 1;
      windows.set(key, window);
    },
  };
}
