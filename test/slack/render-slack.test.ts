import { describe, expect, it } from "vitest";
import type { AlertContent } from "../../src/alerts/alert-content.js";
import { renderSlack } from "../../src/alerts/render-slack.js";
import type { BuildDetail } from "../../src/db/builds.js";

const build: BuildDetail = {
  id: 77,
  provider: "github",
  provider_name: "GitHub Actions",
  external_id: "9002",
  run_attempt: 1,
  repository: "acme/api",
  workflow: "CI",
  status: "failed",
  conclusion: "failure",
  branch: "main",
  commit_sha: "abcdef1234567",
  commit_message: "Break it",
  triggered_by: "<!here>mona",
  event: "push",
  url: "https://github.com/acme/api/actions/runs/9002",
  created_at: new Date("2026-07-01T10:00:00Z"),
  started_at: new Date("2026-07-01T10:00:00Z"),
  finished_at: new Date("2026-07-01T10:05:00Z"),
  duration_seconds: 300,
  jobs: [],
};
const content = (kind: AlertContent["kind"], status: BuildDetail["status"] = "failed"): AlertContent => ({
  kind,
  build: { ...build, status },
  failedJobs: [],
  timeToGreenSeconds: null,
  failedRuns: null,
  dashboardUrl: "http://runboard.test/builds/77",
  githubUrl: build.url,
});
const actionIds = (blocks: unknown[]) =>
  (blocks.find((b: any) => b.type === "actions") as { elements: Array<{ action_id: string; value?: string }> }).elements.map((e) => e.action_id);

describe("alert buttons and mentions", () => {
  it("puts re-run and mute buttons on a broken build's alert, carrying the build id", () => {
    const { blocks } = renderSlack(content("broken"));
    expect(actionIds(blocks)).toEqual(["open_dashboard", "open_github", "rerun_failed_jobs", "mute_workflow_1h", "mute_workflow_1d"]);
    const rerun = (blocks.at(-1) as any).elements[2];
    expect(rerun.value).toBe("77");
  });

  it("offers no re-run or mute on a fixed alert", () => {
    expect(actionIds(renderSlack(content("fixed", "success")).blocks)).toEqual(["open_dashboard", "open_github"]);
  });

  it("mentions the linked Slack user beside the escaped login", () => {
    const text = JSON.stringify(renderSlack(content("broken"), { triggeredBySlackUserId: "U0MONA" }).blocks);
    expect(text).toContain("*Triggered by*\\n&lt;!here&gt;mona (<@U0MONA>)");
    expect(JSON.stringify(renderSlack(content("broken")).blocks)).not.toContain("<@");
  });

  it("writes no mention for something that is not a Slack user id", () => {
    const text = JSON.stringify(renderSlack(content("broken"), { triggeredBySlackUserId: "<!channel>" }).blocks);
    expect(text).not.toContain("<!channel>");
  });
});
