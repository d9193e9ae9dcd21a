import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { accessOf } from "./access.js";
import { equalSecret } from "./auth-secrets.js";
import type { AuthDeps } from "./create-auth.js";

/**
 * Refuses cross-site and unproven state-changing requests: a foreign `Origin` or
 * `Sec-Fetch-Site`, and, for a logged-in browser, a missing or wrong CSRF token (header
 * `x-csrf-token`, or the form's `_csrf`). Runs after the access middleware.
 */
export function createCsrfCheck(deps: Pick<AuthDeps, "baseUrl" | "webhookPath">): MiddlewareHandler {
  return async (c, next) => {
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
      if (!token || !equalSecret(token, access.csrfToken)) {
        throw new HTTPException(403, { message: "missing or stale CSRF token: reload the page and try again" });
      }
    }
    await next();
  };
}
