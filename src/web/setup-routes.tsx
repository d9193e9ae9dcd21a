import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import type { Child } from "hono/jsx";
import type { Logger } from "pino";
import { z } from "zod";
import { ConnectPage, ConnectedPage, InstalledPage, SetupProblemPage } from "../../views/setup-page.js";
import { AppAlreadyConfiguredError, type GithubAppHolder, type RegisteredApp } from "../github/github-app-holder.js";
import { manifestFor } from "../github/app-manifest.js";
import { httpUrl } from "../domain/format.js";

const STATE_COOKIE = "runboard_setup_state";
/** Long enough to read GitHub's page and pick a name; GitHub's code itself lasts an hour. */
const STATE_TTL_SECONDS = 3600;
const CONVERSION_TIMEOUT_MS = 15_000;

/** GitHub's rules for an account name: letters, digits and single inner hyphens, at most 39. */
const ORGANIZATION = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const CODE = /^[A-Za-z0-9_-]{1,200}$/;

/** The part of GitHub's manifest conversion answer Runboard keeps. */
const conversionSchema = z.object({
  id: z.number().int().positive(),
  slug: z.string().min(1),
  html_url: z.string().min(1),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  webhook_secret: z.string().min(1),
  pem: z.string().includes("-----BEGIN"),
});

export interface SetupDeps {
  holder: Pick<GithubAppHolder, "probot" | "slug" | "htmlUrl" | "canStore" | "refresh" | "register">;
  log: Logger;
  baseUrl: string;
  webhookPath: string;
  /** https://github.com, or the GitHub Enterprise host. */
  githubWebUrl: string;
  /** REST base: https://api.github.com, or the GitHub Enterprise host's /api/v3. */
  githubApiBaseUrl: string;
}

function nonceOf(c: Context): string {
  return (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
}

function page(c: Context, node: Child, status: 200 | 400 | 409 | 502 = 200) {
  return c.html(html`<!DOCTYPE html>${node}`, status);
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * One-click registration of the GitHub App from its manifest: `/setup` posts the manifest to
 * GitHub, `/setup/callback` trades GitHub's one-time code for the app's credentials and hands
 * them to the holder (stored sealed, served at once), `/setup/installed` greets whoever installed
 * it. Once an app is configured, credentials are never replaced from here (409).
 */
export function createSetupRoutes(deps: SetupDeps): Hono {
  const app = new Hono();
  const githubOrigin = new URL(deps.githubWebUrl).origin;
  const secureCookie = new URL(deps.baseUrl).protocol === "https:";

  const alreadyConfigured = async (c: Context) => {
    // Another replica may have registered the app: look before offering to register another.
    await deps.holder.refresh();
    if (!deps.holder.probot()) return null;
    const htmlUrl = deps.holder.htmlUrl();
    return page(
      c,
      <SetupProblemPage nonce={nonceOf(c)} title="A GitHub App is already connected">
        Runboard already runs as {deps.holder.slug() ?? "the GitHub App configured in its environment"}; its credentials are
        not replaced from the dashboard.{" "}
        {htmlUrl && <a href={`${htmlUrl}/installations/new`}>Install it on an organization</a>}
      </SetupProblemPage>,
      409,
    );
  };

  app.get("/setup", async (c) => {
    const conflict = await alreadyConfigured(c);
    if (conflict) return conflict;
    const organization = (c.req.query("organization") ?? "").trim();
    if (organization && !ORGANIZATION.test(organization)) {
      return page(
        c,
        <SetupProblemPage nonce={nonceOf(c)} title="Not an organization name">
          An organization name has letters, digits and single hyphens, at most 39 characters. <a href="/setup">Try again</a>
        </SetupProblemPage>,
        400,
      );
    }
    const state = randomBytes(24).toString("base64url");
    if (deps.holder.canStore()) {
      setCookie(c, STATE_COOKIE, state, {
        path: "/setup",
        httpOnly: true,
        sameSite: "Lax",
        secure: secureCookie,
        maxAge: STATE_TTL_SECONDS,
      });
    }
    const newAppPath = organization ? `/organizations/${organization}/settings/apps/new` : "/settings/apps/new";
    const action = `${githubOrigin}${newAppPath}?state=${state}`;
    // This page alone may post a form to GitHub; everything else keeps form-action 'self'.
    c.header(
      "Content-Security-Policy",
      `default-src 'self'; script-src 'nonce-${nonceOf(c)}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; ` +
        `object-src 'none'; base-uri 'none'; form-action 'self' ${githubOrigin}; frame-ancestors 'none'`,
    );
    return page(
      c,
      <ConnectPage
        nonce={nonceOf(c)}
        canStore={deps.holder.canStore()}
        organization={organization}
        action={action}
        manifest={JSON.stringify(manifestFor(deps.baseUrl, deps.webhookPath))}
        githubWebUrl={githubOrigin}
      />,
    );
  });

  app.get("/setup/callback", async (c) => {
    const conflict = await alreadyConfigured(c);
    if (conflict) return conflict;
    const problem = (title: string, message: Child, status: 400 | 502) =>
      page(
        c,
        <SetupProblemPage nonce={nonceOf(c)} title={title}>
          {message}
        </SetupProblemPage>,
        status,
      );

    const expected = getCookie(c, STATE_COOKIE);
    const state = c.req.query("state");
    if (!expected || !state || !sameText(expected, state)) {
      return problem(
        "This registration was not started here",
        <>
          The state GitHub sent back does not match this browser's (it expired after an hour, or the registration was
          started elsewhere). Nothing was stored. <a href="/setup">Start again</a>
        </>,
        400,
      );
    }
    const code = c.req.query("code");
    if (!code || !CODE.test(code)) {
      return problem("No code from GitHub", <>GitHub's answer has no usable code. Nothing was stored. <a href="/setup">Start again</a></>, 400);
    }
    if (!deps.holder.canStore()) {
      return problem("SECRET_KEY is not set", "Set SECRET_KEY and restart Runboard, then start again from /setup.", 400);
    }

    const exchanged = await exchangeCode(deps, code);
    if (exchanged.kind === "refused") {
      return problem(
        "GitHub refused the code",
        <>
          The code is used up or expired (codes last an hour and work once). Nothing was stored. If the app was created,
          delete it in GitHub's settings, then <a href="/setup">start again</a>.
        </>,
        400,
      );
    }
    if (exchanged.kind === "unavailable") {
      // The code stays valid for an hour: reloading this page tries again.
      return problem("GitHub could not be reached", "Nothing was stored. Reload this page to try again.", 502);
    }

    try {
      await deps.holder.register(exchanged.app);
    } catch (error) {
      if (error instanceof AppAlreadyConfiguredError) {
        deps.log.warn({ appId: exchanged.app.appId }, error.message);
        return (await alreadyConfigured(c)) ?? problem("A GitHub App is already connected", error.message, 400);
      }
      throw error;
    }
    deleteCookie(c, STATE_COOKIE, { path: "/setup", secure: secureCookie });
    return c.redirect("/setup/connected", 303);
  });

  app.get("/setup/connected", (c) => {
    if (!deps.holder.probot()) return c.redirect("/setup", 303);
    const htmlUrl = deps.holder.htmlUrl();
    return page(
      c,
      <ConnectedPage nonce={nonceOf(c)} slug={deps.holder.slug()} installUrl={htmlUrl ? `${htmlUrl}/installations/new` : null} />,
    );
  });

  app.get("/setup/installed", (c) => page(c, <InstalledPage nonce={nonceOf(c)} />));

  return app;
}

type Exchange = { kind: "ok"; app: RegisteredApp } | { kind: "refused" } | { kind: "unavailable" };

/** Trades the one-time code for the new app's credentials (unauthenticated, as GitHub asks). */
async function exchangeCode(deps: SetupDeps, code: string): Promise<Exchange> {
  const url = `${deps.githubApiBaseUrl}/app-manifests/${encodeURIComponent(code)}/conversions`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28", "user-agent": "runboard" },
      signal: AbortSignal.timeout(CONVERSION_TIMEOUT_MS),
    });
  } catch (error) {
    // The URL carries GitHub's one-time code, good for the app's credentials: never logged.
    deps.log.warn({ err: error, githubApi: deps.githubApiBaseUrl }, "GitHub manifest conversion failed: check that this server reaches the GitHub API");
    return { kind: "unavailable" };
  }
  if (response.status >= 500 || response.status === 429) {
    deps.log.warn({ status: response.status }, "GitHub manifest conversion failed on GitHub's side; the page can be reloaded");
    return { kind: "unavailable" };
  }
  if (!response.ok) {
    deps.log.warn({ status: response.status }, "GitHub refused the manifest code (used or expired)");
    return { kind: "refused" };
  }
  const parsed = conversionSchema.safeParse(await response.json().catch(() => null));
  const htmlUrl = parsed.success ? httpUrl(parsed.data.html_url) : null;
  if (!parsed.success || !htmlUrl) {
    deps.log.error("GitHub's manifest conversion answer lacks the app's credentials");
    return { kind: "unavailable" };
  }
  const data = parsed.data;
  return {
    kind: "ok",
    app: {
      appId: data.id,
      slug: data.slug,
      htmlUrl: htmlUrl.replace(/\/+$/, ""),
      clientId: data.client_id,
      clientSecret: data.client_secret,
      webhookSecret: data.webhook_secret,
      privateKey: data.pem,
    },
  };
}
