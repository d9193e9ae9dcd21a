import { describe, expect, it } from "vitest";
import type { CommitHealth, CommitWorkflow, FailedJob } from "../../src/db/commit-health.js";
import { checkRunConclusion } from "../../src/github/check-run-conclusion.js";
import { escapeMarkdown, renderCheckRunSummary, SUMMARY_LIMIT } from "../../src/github/check-run-summary.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const GREEN = "fedcba9876543210fedcba9876543210fedcba98";
const options = { repository: "acme/api", headSha: SHA, defaultBranch: "main", dashboardUrl: "http://runboard.test" };

function workflow(overrides: Partial<CommitWorkflow> = {}): CommitWorkflow {
  return {
    build_id: 1,
    workflow: "CI",
    status: "success",
    branch: "feature/x",
    duration_seconds: 60,
    usual_p50: 60,
    recent_runs: 10,
    recent_failed: 0,
    last_green_sha: GREEN,
    last_green_message: "Fix the build\n\nLong story",
    ...overrides,
  };
}

function job(overrides: Partial<FailedJob> = {}): FailedJob {
  return { workflow: "CI", name: "test", failed_step: "Run tests", url: null, passed_on_this_commit: false, flaky_commits: 0, commit_sha: null, run_url: null, excerpt: null, annotations: null, ...overrides };
}

/** `|` that end a table cell (not escaped ones). */
const cellBorders = (line: string) => line.match(/(?<!\\)\|/g)?.length ?? 0;

describe("check run summary", () => {
  it("tells each workflow's result beside its usual duration, the failed jobs and the signs of flakiness", () => {
    const health: CommitHealth = {
      commit: { branch: "feature/x", message: "Speed up the cache\n\nDetails below" },
      workflows: [
        workflow({ build_id: 7, workflow: "CI", status: "failed", duration_seconds: 98, usual_p50: 70, recent_failed: 3 }),
        workflow({ build_id: 8, workflow: "Deploy", duration_seconds: 30, usual_p50: 60, recent_runs: 0, recent_failed: 0, last_green_sha: null, last_green_message: null }),
      ],
      failedJobs: [
        job({ name: "lint", failed_step: "Run yarn lint", url: "https://github.com/acme/api/actions/runs/1/job/2", passed_on_this_commit: true }),
        job({ name: "test", failed_step: null, flaky_commits: 3 }),
        job({ name: "types", flaky_commits: 1 }),
      ],
    };
    const { title, summary } = renderCheckRunSummary(health, options);
    expect(title).toBe("1 of 2 workflows failed");
    expect(summary).toBe(
      [
        "### CI health of `0123456` on feature/x",
        "",
        "Speed up the cache",
        "",
        "| Workflow | Result | Duration | Usual on this branch (p50) | Last 10 on main | Last green on main |",
        "| --- | --- | --- | --- | --- | --- |",
        "| [CI](http://runboard.test/builds/7) | ❌ failed | 1m 38s (+40% slower) | 1m 10s | 3 failed | `fedcba9` Fix the build |",
        "| [Deploy](http://runboard.test/builds/8) | ✅ success | 30s (50% faster) | 1m 00s | – | – |",
        "",
        "#### Failed jobs",
        "",
        "- **CI** › [lint](https://github.com/acme/api/actions/runs/1/job/2) failed at step _Run yarn lint_ — looks flaky: the same job passed on this commit",
        "- **CI** › test failed — looks flaky: it failed and passed without a code change on 3 other commits in the last 30 days",
        "- **CI** › types failed at step _Run tests_",
        "",
        "[Open acme/api in Runboard](http://runboard.test/builds?repository=acme%2Fapi)",
      ].join("\n"),
    );
  });

  it("escapes GitHub's text so it cannot inject links, HTML or table cells", () => {
    const health: CommitHealth = {
      commit: { branch: "<img src=x onerror=alert(1)>", message: "[link](javascript:alert(1)) | a | b `code` *bold* _em_ @acme/team #12 https://evil.example www.evil.example $x$\nsecond line" },
      workflows: [
        workflow({
          workflow: "CI | <b>bold</b> | ![img](https://evil.example/x.png)",
          branch: "<img src=x onerror=alert(1)>",
          last_green_message: "[link](javascript:alert(1)) | pipe",
        }),
      ],
      failedJobs: [
        job({
          name: "test [x](javascript:alert(1)) | <script>",
          failed_step: "step\n| --- |\n<iframe>",
          url: "javascript:alert(1)",
        }),
      ],
    };
    const { summary } = renderCheckRunSummary(health, { ...options, defaultBranch: "ma|in" });
    expect(summary).not.toMatch(/<(img|b|script|iframe)/);
    expect(summary).not.toContain("](javascript");
    expect(summary).not.toContain("(javascript:alert(1))");
    expect(summary).not.toContain("https://evil");
    expect(summary).not.toContain("www.evil");
    expect(summary).not.toContain("@acme");
    expect(summary).not.toContain("#12");
    expect(summary).not.toMatch(/(?<!\\)`code/);
    expect(summary).toContain("on &lt;img src=x onerror=alert\\(1\\)&gt;");
    expect(summary).toContain("\\[link\\]\\(javascript:alert\\(1\\)\\) \\| a \\| b \\`code\\` \\*bold\\* \\_em\\_");
    // Every table line keeps its six cells; the failed step stays on its own list line.
    const tableLines = summary.split("\n").filter((line) => line.startsWith("| "));
    expect(tableLines).toHaveLength(3);
    for (const line of tableLines) expect(cellBorders(line)).toBe(7);
    const jobLines = summary.split("\n").filter((line) => line.includes("failed at step"));
    expect(jobLines).toHaveLength(1);
    expect(jobLines[0]).toBe(
      "- **CI** › test \\[x\\]\\(javascript:alert\\(1\\)\\) \\| &lt;script&gt; failed at step _step \\| --- \\| &lt;iframe&gt;_",
    );
  });

  it("escapes Markdown, HTML, autolinks, mentions and references in one string", () => {
    expect(escapeMarkdown("<img src=x onerror=alert(1)>")).toBe("&lt;img src=x onerror=alert\\(1\\)&gt;");
    expect(escapeMarkdown("[link](javascript:alert(1)) | x")).toBe("\\[link\\]\\(javascript:alert\\(1\\)\\) \\| x");
    expect(escapeMarkdown("a\r\nb\nc")).toBe("a b c");
    expect(escapeMarkdown("1 & 2 $ 3")).toBe("1 &amp; 2 &#36; 3");
    expect(escapeMarkdown("see https://x.io and WWW.x.io")).toBe("see https:\u2060//x.io and WWW\u2060.x.io");
    expect(escapeMarkdown("@mona fixes #1")).toBe("@\u2060mona fixes \\#\u20601");
  });

  it("stays under GitHub's cap, saying how many workflows and failed jobs were left out", () => {
    const workflows = Array.from({ length: 2_000 }, (_, i) => workflow({ build_id: i, workflow: `workflow ${i} ${"ü".repeat(40)}`, status: "failed" }));
    const failedJobs = Array.from({ length: 3_000 }, (_, i) =>
      job({ name: `job ${i} ${"x".repeat(40)}`, failed_step: "step | with [link](javascript:1)", passed_on_this_commit: i % 2 === 0 }),
    );
    const { summary } = renderCheckRunSummary({ commit: { branch: "b".repeat(5_000), message: "m".repeat(5_000) }, workflows, failedJobs }, options);
    expect(Buffer.byteLength(summary, "utf8")).toBeLessThanOrEqual(SUMMARY_LIMIT);
    const lines = summary.split("\n");
    const moreWorkflows = Number(summary.match(/- …and (\d+) more workflows/)?.[1]);
    expect(lines.filter((l) => l.startsWith("| [workflow ")).length + moreWorkflows).toBe(2_000);
    const moreJobs = Number(summary.match(/- …and (\d+) more failed jobs/)?.[1]);
    expect(lines.filter((l) => l.startsWith("- **CI** › job ")).length + moreJobs).toBe(3_000);
    expect(moreJobs).toBeLessThan(3_000);
    // The link to the dashboard survives the cut.
    expect(lines.at(-1)).toBe("[Open acme/api in Runboard](http://runboard.test/builds?repository=acme%2Fapi)");
  });

  it("shows a failed job's annotations linked to the commit and its excerpt in a fence nothing in the log can close", () => {
    const failedJobs = [
      job({
        commit_sha: SHA,
        run_url: "https://github.com/acme/api/actions/runs/7",
        annotations: [{ level: "failure", message: "expected <b>1</b> @here", path: "src/a b.ts", line: 3 }],
        excerpt: ["FAIL src/a.test.ts", "```", "@octocat [x](javascript:1) <!channel>", "Error: Process completed with exit code 1."],
      }),
    ];
    const { summary } = renderCheckRunSummary({ commit: null, workflows: [workflow({ status: "failed" })], failedJobs }, options);
    expect(summary).toContain(`  - [src/a b.ts:3](https://github.com/acme/api/blob/${SHA}/src/a%20b.ts#L3) expected &lt;b&gt;1&lt;/b&gt; @\u2060here`);
    const lines = summary.split("\n");
    const open = lines.indexOf("  ````text");
    expect(open).toBeGreaterThan(0);
    // The excerpt's own ``` is shorter than the fence: it is text, and the fence closes after the error line.
    expect(lines.slice(open + 1, open + 6)).toEqual([
      "  FAIL src/a.test.ts",
      "  ```",
      "  @octocat [x](javascript:1) <!channel>",
      "  Error: Process completed with exit code 1.",
      "  ````",
    ]);
  });

  it("says so when no run of the commit is recorded", () => {
    const { title, summary } = renderCheckRunSummary({ commit: null, workflows: [], failedJobs: [] }, options);
    expect(title).toBe("0 workflows, none failed");
    expect(summary).toContain("No run of this commit is recorded yet.");
  });
});

describe("check run conclusion", () => {
  const health = (...statuses: CommitWorkflow["status"][]): CommitHealth => ({
    commit: null,
    workflows: statuses.map((status) => workflow({ status })),
    failedJobs: [],
  });

  it("is neutral unless configured", () => {
    expect(checkRunConclusion(health("failed"), "neutral")).toBe("neutral");
  });

  it("follows the workflows in auto: failure when one failed, success when all passed, else neutral", () => {
    expect(checkRunConclusion(health("success", "failed"), "auto")).toBe("failure");
    expect(checkRunConclusion(health("success", "skipped"), "auto")).toBe("success");
    expect(checkRunConclusion(health("success", "cancelled"), "auto")).toBe("neutral");
    expect(checkRunConclusion(health("skipped"), "auto")).toBe("neutral");
    expect(checkRunConclusion(health(), "auto")).toBe("neutral");
  });
});
