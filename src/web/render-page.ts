import type { Context } from "hono";
import { html } from "hono/html";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Answers with a full page: the doctype, then the page's own `<html>` (see views/layout.tsx). */
export function renderPage(c: Context, node: Child, status: ContentfulStatusCode = 200) {
  return c.html(html`<!DOCTYPE html>${node}`, status);
}

/**
 * This request's CSP nonce, for the page's scripts; empty where no `secureHeaders` ran (a route
 * group tested alone), as there is then no policy for it to match.
 */
export function cspNonce(c: Context): string {
  return (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
}
