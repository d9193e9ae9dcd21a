import { Layout } from "./layout.js";

/**
 * Asks before linking a Slack user to the logged-in GitHub login: opening the link alone links
 * nothing, so a link opened by mistake, or sent by someone else, does no harm.
 */
export function SlackLinkConfirmPage(props: {
  nonce: string;
  code: string;
  slackUser: { userId: string; teamId: string };
  login: string;
  /** The session's CSRF token; null where no login is configured. */
  csrfToken: string | null;
}) {
  return (
    <Layout title="Link Slack to GitHub" nonce={props.nonce} section="account">
      <h1>Link Slack to GitHub</h1>
      <p>
        Link Slack user <code>{props.slackUser.userId}</code> (workspace <code>{props.slackUser.teamId}</code>) to your GitHub
        login <strong>{props.login}</strong>? Buttons that press on GitHub from Slack (re-running jobs) will then act as you.
      </p>
      <form method="post" action={`/slack/link/${props.code}`}>
        {props.csrfToken !== null ? <input type="hidden" name="_csrf" value={props.csrfToken} /> : null}
        <button type="submit">Link</button>
      </form>
    </Layout>
  );
}

/** The link is stored. */
export function SlackLinkedPage(props: { nonce: string; slackUserId: string; login: string }) {
  return (
    <Layout title="Slack linked" nonce={props.nonce} section="account">
      <h1>Slack linked</h1>
      <p>
        Slack user <code>{props.slackUserId}</code> is now linked to GitHub login <strong>{props.login}</strong>. You can close
        this page.
      </p>
    </Layout>
  );
}

/** The code is unknown, used up or too old: only a new `/builds link` helps. */
export function SlackLinkExpiredPage(props: { nonce: string }) {
  return (
    <Layout title="Link expired" nonce={props.nonce} section="account">
      <h1>Link expired</h1>
      <p>
        This link is unknown, used or older than 15 minutes. Run <code>/builds link</code> in Slack again.
      </p>
    </Layout>
  );
}
