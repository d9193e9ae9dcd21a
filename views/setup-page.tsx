import type { Child } from "hono/jsx";
import { Layout } from "./layout.js";

/**
 * "Connect to GitHub": registers Runboard's GitHub App from its manifest, on a personal account
 * or an organization. Without SECRET_KEY the credentials could not be stored, so there is no
 * button, only what to set.
 */
export function ConnectPage(props: {
  nonce: string;
  /** SECRET_KEY is set. */
  canStore: boolean;
  organization: string;
  /** GitHub's "new app from manifest" address, with the state. */
  action: string;
  /** The manifest's JSON. */
  manifest: string;
  githubWebUrl: string;
}) {
  return (
    <Layout title="Connect to GitHub" nonce={props.nonce}>
      <h1>Connect to GitHub</h1>
      {!props.canStore ? (
        <p role="status">
          Set <code>SECRET_KEY</code> (32 characters or more, for example from <code>openssl rand -base64 32</code>) and
          restart Runboard first: the app's private key and secrets are stored encrypted with it.
        </p>
      ) : (
        <>
          <p>
            Registers Runboard as a GitHub App on {props.githubWebUrl}: GitHub shows the app's name, events and permissions
            before anything is created, then sends its credentials back here. Runboard starts receiving workflow runs at
            once.
          </p>
          <form method="get" action="/setup" class="filters">
            <label>
              Organization (empty: your personal account){" "}
              <input name="organization" value={props.organization} maxlength={39} autocomplete="off" />
            </label>
            <button type="submit">Use this owner</button>
          </form>
          <form method="post" action={props.action}>
            <input type="hidden" name="manifest" value={props.manifest} />
            <button type="submit">
              Connect to GitHub{props.organization ? ` for ${props.organization}` : ""}
            </button>
          </form>
        </>
      )}
    </Layout>
  );
}

/** The app is registered and loaded: next, install it where the builds are. */
export function ConnectedPage(props: { nonce: string; slug: string | null; installUrl: string | null }) {
  return (
    <Layout title="Connected to GitHub" nonce={props.nonce}>
      <h1>Connected to GitHub</h1>
      <p role="status">
        Runboard runs as the GitHub App {props.slug ? <strong>{props.slug}</strong> : "configured in its environment"}.
      </p>
      {props.installUrl ? (
        <p>
          <a class="button" href={props.installUrl}>
            Install on an organization
          </a>{" "}
          (all repositories, or the ones to watch).
        </p>
      ) : (
        <p>Install the app from its page on GitHub.</p>
      )}
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </Layout>
  );
}

/** Where GitHub sends whoever installed the app (its setup URL). */
export function InstalledPage(props: { nonce: string }) {
  return (
    <Layout title="Installed" nonce={props.nonce}>
      <h1>Runboard is installed</h1>
      <p>Workflow runs appear on the dashboard as they run.</p>
      <p>
        <a href="/">Open the dashboard</a>
      </p>
    </Layout>
  );
}

/** A setup step that cannot go on, with what to do next. */
export function SetupProblemPage(props: { nonce: string; title: string; children?: Child }) {
  return (
    <Layout title={props.title} nonce={props.nonce}>
      <h1>{props.title}</h1>
      <p role="alert">{props.children}</p>
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </Layout>
  );
}
