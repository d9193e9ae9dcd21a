import type { Context } from "hono";
import { Hono } from "hono";
import type { DatabasePool } from "slonik";
import { SlackLinkConfirmPage, SlackLinkedPage, SlackLinkExpiredPage } from "../../views/slack-link-page.js";
import { consumeLinkCode, peekLinkCode } from "../db/slack-links.js";
import { accessOf } from "../web/auth/access.js";
import { cspNonce, renderPage } from "../web/render-page.js";

export interface SlackLinkRouteDeps {
  pool: DatabasePool;
  now: () => Date;
  /** The logged-in dashboard user, or null. */
  getViewer: (c: Context) => Promise<{ githubUserId: number; login: string } | null>;
}

const CODE = "{[A-Za-z0-9_-]{16,64}}";

/**
 * GET/POST /slack/link/:code, where `/builds link` sends people: logged in with GitHub, they
 * see which Slack user the code belongs to and confirm with a POST (a link opened by mistake,
 * or sent by someone else, links nothing); the code is then used up and the link stored.
 */
export function createSlackLinkRoute(deps: SlackLinkRouteDeps): Hono {
  const app = new Hono();
  const expired = (c: Context) => renderPage(c, <SlackLinkExpiredPage nonce={cspNonce(c)} />, 404);
  const toLogin = (c: Context, code: string) => c.redirect(`/login?return_to=${encodeURIComponent(`/slack/link/${code}`)}`, 302);

  app.get(`/slack/link/:code${CODE}`, async (c) => {
    const code = c.req.param("code");
    const viewer = await deps.getViewer(c);
    if (!viewer) return toLogin(c, code);
    const slackUser = await peekLinkCode(deps.pool, code, deps.now());
    if (!slackUser) return expired(c);
    const access = accessOf(c);
    return renderPage(
      c,
      <SlackLinkConfirmPage
        nonce={cspNonce(c)}
        code={code}
        slackUser={slackUser}
        login={viewer.login}
        csrfToken={access.kind === "user" ? access.csrfToken : null}
      />,
    );
  });

  app.post(`/slack/link/:code${CODE}`, async (c) => {
    const code = c.req.param("code");
    const viewer = await deps.getViewer(c);
    if (!viewer) return toLogin(c, code);
    const link = await consumeLinkCode(deps.pool, code, viewer, deps.now());
    if (!link) return expired(c);
    return renderPage(c, <SlackLinkedPage nonce={cspNonce(c)} slackUserId={link.slack_user_id} login={link.github_login} />);
  });
  return app;
}
