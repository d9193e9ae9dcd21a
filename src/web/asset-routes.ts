import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Hono } from "hono";
import { projectPath } from "../project-path.js";

const require = createRequire(import.meta.url);

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function load(file: string, type: string): Asset {
  const body = readFileSync(file, "utf8");
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/**
 * The browser's files: htmx and its SSE extension from the installed `htmx.org` package (no
 * CDN) and the stylesheet. Read once at start, served with an ETag so a reload costs a 304.
 */
export function createAssetRoutes(): Hono {
  const htmxDir = require.resolve("htmx.org/dist/htmx.min.js").replace(/htmx\.min\.js$/, "");
  const assets: Record<string, Asset> = {
    "htmx.js": load(`${htmxDir}htmx.min.js`, "text/javascript; charset=utf-8"),
    "hx-sse.js": load(`${htmxDir}ext/hx-sse.min.js`, "text/javascript; charset=utf-8"),
    "app.css": load(projectPath("views", "app.css"), "text/css; charset=utf-8"),
    "favicon.svg": load(projectPath("views", "favicon.svg"), "image/svg+xml"),
  };
  const app = new Hono();
  app.get("/favicon.ico", (c) => c.redirect("/assets/favicon.svg", 301));
  app.get("/assets/:name", (c) => {
    const asset = assets[c.req.param("name")];
    if (!asset) return c.notFound();
    c.header("etag", asset.etag);
    c.header("cache-control", "public, max-age=300");
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("content-type", asset.type);
    return c.body(asset.body);
  });
  return app;
}
