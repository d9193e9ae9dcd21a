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
  // installation and installation_repositories come to every app unasked; GitHub refuses them here.
  default_events: ["workflow_run", "workflow_job"],
  default_permissions: { actions: "write", checks: "write", metadata: "read" },
} as const;

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
    default_events: [...APP_MANIFEST.default_events],
  };
}
