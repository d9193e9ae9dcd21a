import type { Context } from "hono";
import { Hono } from "hono";
import type { DatabasePool } from "slonik";
import { consumeLinkCode, peekLinkCode } from "../db/slack-links.js";
import { accessOf } from "../web/auth/access.js";

export interface SlackLinkRouteDeps {
  pool: DatabasePool;
  now: () => Date;
  /** The logged-in dashboard user, or null. */
  getViewer: (c: Context) => Promise<{ githubUserId: number; login: string } | null>;
}

const CODE = "{[A-Za-z0-9_-]{16,64}}";

function Page(props: { title: string; children: unknown }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{props.title} · Runboard</title>
        <link rel="stylesheet" href="/assets/app.css" />
      </head>
      <body>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/**
 * GET/POST /slack/link/:code, where `/builds link` sends people: logged in with GitHub, they
 * see which Slack user the code belongs to and confirm with a POST (a link opened by mistake,
 * or sent by someone else, links nothing); the code is then used up and the link stored.
 */
export function createSlackLinkRoute(deps: SlackLinkRouteDeps): Hono {
  const app = new Hono();
  const expired = (c: Context) =>
    c.html(
      <Page title="Link expired">
        <p>This link is unknown, used or older than 15 minutes. Run <code>/builds link</code> in Slack again.</p>
      </Page>,
      404,
    );

  app.get(`/slack/link/:code${CODE}`, async (c) => {
    const code = c.req.param("code");
    const viewer = await deps.getViewer(c);
    if (!viewer) return c.redirect(`/login?return_to=${encodeURIComponent(`/slack/link/${code}`)}`, 302);
    const slackUser = await peekLinkCode(deps.pool, code, deps.now());
    if (!slackUser) return expired(c);
    const access = accessOf(c);
    return c.html(
      <Page title="Link Slack to GitHub">
        <p>
          Link Slack user <code>{slackUser.userId}</code> (workspace <code>{slackUser.teamId}</code>) to your GitHub login{" "}
          <strong>{viewer.login}</strong>? Buttons that press on GitHub from Slack (re-running jobs) will then act as you.
        </p>
        <form method="post" action={`/slack/link/${code}`}>
          {access.kind === "user" ? <input type="hidden" name="_csrf" value={access.csrfToken} /> : null}
          <button type="submit">Link</button>
        </form>
      </Page>,
    );
  });

  app.post(`/slack/link/:code${CODE}`, async (c) => {
    const code = c.req.param("code");
    const viewer = await deps.getViewer(c);
    if (!viewer) return c.redirect(`/login?return_to=${encodeURIComponent(`/slack/link/${code}`)}`, 302);
    const link = await consumeLinkCode(deps.pool, code, viewer, deps.now());
    if (!link) return expired(c);
    return c.html(
      <Page title="Slack linked">
        <p>
          Slack user <code>{link.slack_user_id}</code> is now linked to GitHub login <strong>{link.github_login}</strong>. You can
          close this page.
        </p>
      </Page>,
    );
  });
  return app;
}
