import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { APP_MANIFEST, manifestFor } from "../../src/github/app-manifest.js";
import { projectPath } from "../../src/project-path.js";

/**
 * The parameters GitHub reads from an app manifest ("Registering a GitHub App from a manifest"):
 * anything else is refused or ignored.
 */
const MANIFEST_FIELDS = new Set([
  "name",
  "url",
  "hook_attributes",
  "redirect_url",
  "callback_urls",
  "setup_url",
  "description",
  "public",
  "default_events",
  "default_permissions",
  "request_oauth_on_install",
  "setup_on_update",
]);

/**
 * Events a GitHub App can subscribe to. `installation`, `installation_repositories`,
 * `installation_target` and `github_app_authorization` are not among them: GitHub sends those to
 * every app and answers "Default events unsupported" when a manifest names one.
 */
const SUBSCRIBABLE_EVENTS = new Set([
  "branch_protection_configuration", "branch_protection_rule", "check_run", "check_suite", "code_scanning_alert",
  "commit_comment", "create", "custom_property_values", "delete", "dependabot_alert", "deploy_key", "deployment",
  "deployment_protection_rule", "deployment_review", "deployment_status", "discussion", "discussion_comment", "fork",
  "gollum", "issue_comment", "issues", "label", "member", "membership", "merge_group", "meta", "milestone",
  "org_block", "organization", "package", "page_build", "project", "project_card", "project_column", "public",
  "pull_request", "pull_request_review", "pull_request_review_comment", "pull_request_review_thread", "push",
  "registry_package", "release", "repository", "repository_advisory", "repository_dispatch", "repository_ruleset",
  "secret_scanning_alert", "secret_scanning_alert_location", "security_and_analysis", "star", "status", "sub_issues",
  "team", "team_add", "watch", "workflow_dispatch", "workflow_job", "workflow_run",
]);

/** Permissions whose only level is read. */
const READ_ONLY_PERMISSIONS = new Set(["metadata"]);

function manifestProblems(manifest: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(manifest)) if (!MANIFEST_FIELDS.has(key)) problems.push(`unknown field ${key}`);
  for (const key of ["name", "url", "hook_attributes"]) if (!(key in manifest)) problems.push(`missing ${key}`);
  const hook = manifest.hook_attributes as Record<string, unknown> | undefined;
  for (const key of Object.keys(hook ?? {})) if (key !== "url" && key !== "active") problems.push(`unknown hook attribute ${key}`);
  for (const event of (manifest.default_events as string[] | undefined) ?? []) {
    if (!SUBSCRIBABLE_EVENTS.has(event)) problems.push(`default event ${event} cannot be subscribed to`);
  }
  for (const [permission, level] of Object.entries((manifest.default_permissions as Record<string, string> | undefined) ?? {})) {
    if (!["read", "write", "admin"].includes(level)) problems.push(`permission ${permission}: level ${level}`);
    if (READ_ONLY_PERMISSIONS.has(permission) && level !== "read") problems.push(`permission ${permission} is read only`);
  }
  return problems;
}

describe("app.yml", () => {
  const yaml = parseYaml(readFileSync(projectPath("app.yml"), "utf8")) as Record<string, unknown>;

  it("holds only what GitHub accepts in a manifest, so it can be posted as it is", () => {
    expect(manifestProblems(yaml)).toEqual([]);
    expect(manifestProblems(manifestFor("https://runboard.test", "/api/github/webhooks") as unknown as Record<string, unknown>)).toEqual([]);
  });

  it("subscribes to the workflow events Runboard records", () => {
    expect(yaml.default_events).toEqual(["workflow_run", "workflow_job"]);
    expect(yaml).toEqual(APP_MANIFEST);
  });

  it("would be refused with an installation event or an unknown field", () => {
    // The checker itself: what GitHub refuses must show up as a problem.
    expect(manifestProblems({ ...yaml, default_events: ["workflow_run", "installation"] })).toEqual([
      "default event installation cannot be subscribed to",
    ]);
    expect(manifestProblems({ ...yaml, webhook_secret: "x" })).toEqual(["unknown field webhook_secret"]);
  });
});
