import { z } from "zod";
import { httpUrl } from "../domain/format.js";
import type { RegisteredApp } from "./github-app-holder.js";

/**
 * The GitHub App Runboard runs as, as a manifest: app.yml holds the same object (a test keeps
 * the two equal) with example.com addresses; {@link manifestFor} fills in this server's.
 */
export const APP_MANIFEST = {
  name: "Runboard",
  description:
    "CI dashboard for GitHub Actions. Records every workflow run and job, alerts when a branch breaks and when it is fixed, and posts a CI-health check run on commits.",
  url: "https://runboard.example.com",
  hook_attributes: { url: "https://runboard.example.com/api/github/webhooks", active: true },
  redirect_url: "https://runboard.example.com/setup/callback",
  callback_urls: ["https://runboard.example.com/auth/github/callback"],
  setup_url: "https://runboard.example.com/setup/installed",
  setup_on_update: true,
  public: false,
  default_events: ["workflow_run", "workflow_job", "installation", "installation_repositories"],
  default_permissions: { actions: "write", checks: "write", metadata: "read" },
} as const;

/**
 * GitHub delivers these to every app whether or not it subscribes, and its app settings offer no
 * box for them; a manifest naming them in `default_events` risks being refused as an unknown
 * event, so the posted manifest leaves them out (app.yml lists them to say they are handled).
 */
const ALWAYS_DELIVERED = new Set<string>(["installation", "installation_repositories"]);

/** A manifest as GitHub reads it (the fields Runboard uses). */
export interface AppManifest {
  name: string;
  description: string;
  url: string;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  callback_urls: string[];
  setup_url: string;
  setup_on_update: boolean;
  public: boolean;
  default_events: string[];
  default_permissions: Record<string, "read" | "write">;
}

/**
 * The manifest to post to GitHub for this server: every address under `baseUrl`.
 * @param baseUrl BASE_URL, without a trailing slash.
 * @param webhookPath WEBHOOK_PATH.
 */
export function manifestFor(baseUrl: string, webhookPath: string): AppManifest {
  return {
    ...APP_MANIFEST,
    url: baseUrl,
    hook_attributes: { url: baseUrl + webhookPath, active: true },
    redirect_url: `${baseUrl}/setup/callback`,
    callback_urls: [`${baseUrl}/auth/github/callback`],
    setup_url: `${baseUrl}/setup/installed`,
    default_events: APP_MANIFEST.default_events.filter((event) => !ALWAYS_DELIVERED.has(event)),
  };
}

/** GitHub's answer to a manifest conversion: the new app and, this once, its secrets. */
const conversionSchema = z.object({
  id: z.number().int().positive(),
  slug: z.string().min(1),
  html_url: z.string().refine((url) => httpUrl(url) !== null, "must be an http(s) address"),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  webhook_secret: z.string().min(1, "is empty").nullable(),
  pem: z.string().includes("-----BEGIN", { message: "is not a PEM private key" }),
});

/** The manifest code could not be exchanged; `refused` means GitHub answered 4xx (used, expired or unknown code). */
export class ManifestConversionError extends Error {
  override name = "ManifestConversionError";
  constructor(
    message: string,
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/**
 * Exchanges the code GitHub sends back after creating the app from the manifest for the app's
 * id, private key, webhook secret and OAuth client (`POST /app-manifests/{code}/conversions`,
 * unauthenticated). GitHub answers it once, within an hour of the app's creation.
 * @param apiBaseUrl https://api.github.com, or a GitHub Enterprise host's /api/v3.
 */
export async function convertManifestCode(apiBaseUrl: string, code: string): Promise<RegisteredApp> {
  const url = `${apiBaseUrl.replace(/\/+$/, "")}/app-manifests/${encodeURIComponent(code)}/conversions`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new ManifestConversionError(`GitHub could not be reached (${(error as Error).message})`, false);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = typeof body === "object" && body !== null && "message" in body ? String(body.message) : "";
    throw new ManifestConversionError(
      `GitHub answered ${response.status}${message ? ` (${message})` : ""}`,
      response.status >= 400 && response.status < 500,
    );
  }
  const parsed = conversionSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ManifestConversionError(`GitHub's answer is not a new app: ${issue.path.join(".")} ${issue.message}`, false);
  }
  const app = parsed.data;
  if (app.webhook_secret === null) {
    throw new ManifestConversionError("GitHub's answer has no webhook secret, so no delivery could be verified", false);
  }
  return {
    appId: app.id,
    slug: app.slug,
    htmlUrl: app.html_url,
    clientId: app.client_id,
    clientSecret: app.client_secret,
    webhookSecret: app.webhook_secret,
    privateKey: app.pem,
  };
}
