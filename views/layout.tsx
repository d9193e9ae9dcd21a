import { createContext, useContext, type Child } from "hono/jsx";

export type Section = "overview" | "builds" | "runners" | "alerts" | "docs" | "account";

const HTMX_CONFIG = JSON.stringify({ mode: "same-origin", includeIndicatorCSS: false, extensions: "sse" });

/** True in demo mode (`npm run demo`): the page routes provide it, the layout shows a banner. */
export const DemoMode = createContext(false);

/**
 * The page frame: skip link, navigation, stylesheet, htmx with its SSE extension (served from
 * the installed package, scripts carrying the request's CSP nonce) and, on live pages, the one
 * SSE connection whose named events tell fragments to refresh: `build` when a build the page
 * shows changed (at most one a tick: see src/web/live-hub.ts), `hello` when the connection
 * (re)opens, to catch up on what it missed. `live` may name what the page shows (a build, a
 * repository, a workflow, a branch), so that it hears of nothing else.
 */
export function Layout(props: {
  title: string;
  nonce: string;
  section?: Section;
  live?: boolean | Record<string, string | number | undefined>;
  children?: Child;
}) {
  const live = props.live ? liveUrl(props.live) : null;
  const nav: Array<[Section, string, string]> = [
    ["overview", "/", "Overview"],
    ["builds", "/builds", "Builds"],
    ["runners", "/runners", "Runners"],
    ["alerts", "/alerts", "Alerts"],
    ["docs", "/docs", "API"],
    ["account", "/account", "Account"],
  ];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${props.title} · Runboard`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <script src="/assets/htmx.js" nonce={props.nonce} defer></script>
        <script src="/assets/hx-sse.js" nonce={props.nonce} defer></script>
      </head>
      <body>
        <a class="skip" href="#content">
          Skip to content
        </a>
        <header class="top">
          <div class="inner">
            <a class="brand" href="/">
              Runboard
            </a>
            <nav aria-label="Main">
              {nav.map(([section, href, label]) => (
                <a href={href} aria-current={props.section === section ? "page" : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            {live && (
              <span id="live" class="live-status muted" hx-sse:connect={live} hx-swap="none">
                live
              </span>
            )}
          </div>
        </header>
        <main id="content">
          {useContext(DemoMode) && (
            <p class="notice" role="note" data-demo-banner>
              Demo data: an example organization; nothing here comes from GitHub.
            </p>
          )}
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** The page's event stream, with what it shows as the query. */
function liveUrl(live: true | Record<string, string | number | undefined>): string {
  if (live === true) return "/events";
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(live)) if (value !== undefined && value !== "") query.set(name, String(value));
  const text = query.toString();
  return text ? `/events?${text}` : "/events";
}
