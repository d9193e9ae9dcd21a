import type { Child } from "hono/jsx";
import type { ApiToken } from "../src/db/api-tokens.js";
import type { Access } from "../src/web/auth/access.js";
import { Time } from "./components.js";
import { Layout } from "./layout.js";

/** A login that cannot go on, with what to do next. */
export function LoginProblemPage(props: { nonce: string; title: string; children?: Child }) {
  return (
    <Layout title={props.title} nonce={props.nonce} section="account">
      <h1>{props.title}</h1>
      <p>{props.children}</p>
    </Layout>
  );
}

/** Who is logged in, their API tokens (a new one shown once), and sign out. */
export function AccountPage(props: {
  nonce: string;
  access: Access;
  loginConfigured: boolean;
  tokens: readonly ApiToken[];
  created?: { name: string; token: string } | undefined;
}) {
  const { access } = props;
  if (access.kind !== "user") {
    return (
      <Layout title="Account" nonce={props.nonce} section="account">
        <h1>Account</h1>
        {props.loginConfigured ? (
          <p>
            <a href="/login?return_to=%2Faccount">Log in with GitHub</a> to create API tokens.
          </p>
        ) : (
          <p>
            No login is configured: this dashboard is open to whoever reaches it. Set GITHUB_CLIENT_ID,
            GITHUB_CLIENT_SECRET and SECRET_KEY to require a GitHub login.
          </p>
        )}
      </Layout>
    );
  }
  return (
    <Layout title="Account" nonce={props.nonce} section="account">
      <h1>Account</h1>
      <p>
        Logged in with GitHub as <strong>{access.viewer.login}</strong>; you see{" "}
        {access.installationIds.length === 1 ? "1 installation" : `${access.installationIds.length} installations`}.
      </p>
      <form method="post" action="/logout">
        <input type="hidden" name="_csrf" value={access.csrfToken} />
        <button type="submit">Log out</button>
      </form>

      <h2>API tokens</h2>
      {props.created && (
        <div class="notice" role="status">
          <p>
            New token <strong>{props.created.name}</strong>; copy it now, it is not shown again:
          </p>
          <pre>
            <code>{props.created.token}</code>
          </pre>
        </div>
      )}
      <p class="muted">
        A token reads the JSON API (<code>Authorization: Bearer …</code>) for the installations you see now.
      </p>
      <form method="post" action="/account/tokens">
        <input type="hidden" name="_csrf" value={access.csrfToken} />
        <label>
          Name <input name="name" required maxlength={100} />
        </label>{" "}
        <button type="submit">Create token</button>
      </form>
      {props.tokens.length > 0 && (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Your tokens">
          <table>
            <caption>Your tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Installations</th>
                <th scope="col"><span class="visually-hidden">Revoke</span></th>
              </tr>
            </thead>
            <tbody>
              {props.tokens.map((token) => (
                <tr>
                  <td>{token.name}</td>
                  <td><Time value={token.created_at} /></td>
                  <td>{token.last_used_at ? <Time value={token.last_used_at} /> : "never"}</td>
                  <td>{token.installation_ids.length}</td>
                  <td>
                    <form method="post" action={`/account/tokens/${token.id}/revoke`}>
                      <input type="hidden" name="_csrf" value={access.csrfToken} />
                      <button type="submit">Revoke</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
