import type { Child } from "hono/jsx";

const styles = `
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --run: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d;
  --ok: #3fb950; --bad: #f85149; --warn: #d29922; --run: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
header { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid var(--line); }
header a { color: inherit; text-decoration: none; font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; padding: 0; list-style: none; }
.cards li { border: 1px solid var(--line); border-radius: .5rem; padding: .75rem; }
.cards strong { display: block; font-size: 1.5rem; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.message { white-space: normal; max-width: 28rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.badge { font-weight: 600; }
.badge-success { color: var(--ok); } .badge-failed { color: var(--bad); } .badge-running { color: var(--run); }
.badge-queued, .badge-cancelled, .badge-skipped { color: var(--muted); }
`;

/** The page frame: header, navigation and the shared stylesheet. */
export function Layout(props: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · Runboard</title>
        <style>{styles}</style>
      </head>
      <body>
        <header>
          <a href="/">Runboard</a>
          <nav aria-label="Main">
            <a href="/alerts">Alerts</a> <a href="/api/builds">API</a>
          </nav>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
