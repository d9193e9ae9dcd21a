import type { CommitHealth } from "../db/commit-health.js";
import { formatDuration, shortSha } from "../domain/format.js";

/** GitHub refuses a check run summary longer than this. */
export const SUMMARY_LIMIT = 65_535;

/**
 * Escapes text from GitHub (names, branches) for Markdown: it cannot open a link, an image,
 * HTML, emphasis or code, nor break out of a table cell or a line.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}[\]()#!|~]/g, (ch) => `\\${ch}`);
}

/** A commit id in a code span: only hex passes as is (a backtick there would end the span). */
function sha(value: string): string {
  return /^[0-9a-f]+$/i.test(value) ? `\`${shortSha(value)}\`` : escapeMarkdown(shortSha(value));
}

const ICONS: Record<string, string> = {
  success: "✅",
  failed: "❌",
  cancelled: "⏹️",
  skipped: "⏭️",
  running: "🔄",
  queued: "⏳",
};

function versusUsual(duration: number | null, usual: number | null): string {
  if (duration == null || usual == null || usual <= 0) return "";
  const change = Math.round(((duration - usual) / usual) * 100);
  if (Math.abs(change) < 10) return " (as usual)";
  return change > 0 ? ` (+${change}% slower)` : ` (${Math.abs(change)}% faster)`;
}

/**
 * The "Runboard" check run's title and Markdown summary for one commit. Kept under GitHub's
 * cap: failed jobs beyond what fits are counted instead of listed.
 */
export function renderCheckRunSummary(
  health: CommitHealth,
  options: { headSha: string; defaultBranch: string | null; dashboardUrl: string },
): { title: string; summary: string } {
  const failed = health.workflows.filter((w) => w.status === "failed").length;
  const title =
    failed > 0
      ? `${failed} of ${health.workflows.length} workflow${health.workflows.length === 1 ? "" : "s"} failed`
      : `${health.workflows.length} workflow${health.workflows.length === 1 ? "" : "s"}, none failed`;
  const defaultBranch = escapeMarkdown(options.defaultBranch ?? "main");
  const head = [
    `### CI health of ${sha(options.headSha)}`,
    "",
    `| Workflow | Result | Duration | Usual on this branch (p50) | Last 10 on ${defaultBranch} | Last green on ${defaultBranch} |`,
    "| --- | --- | --- | --- | --- | --- |",
    ...health.workflows.map(
      (w) =>
        `| [${escapeMarkdown(w.workflow)}](${options.dashboardUrl}/builds/${w.build_id}) | ${ICONS[w.status] ?? ""} ${w.status} | ` +
        `${formatDuration(w.duration_seconds)}${versusUsual(w.duration_seconds, w.usual_p50)} | ${formatDuration(w.usual_p50)} | ` +
        `${w.recent_runs ? `${w.recent_failed} failed` : "–"} | ${w.last_green_sha ? sha(w.last_green_sha) : "–"} |`,
    ),
  ];
  const tail = ["", `[Open in Runboard](${options.dashboardUrl}/builds)`];
  const lines = [...head];
  if (health.failedJobs.length > 0) {
    lines.push("", "#### Failed jobs", "");
    const budget = SUMMARY_LIMIT - 200 - tail.join("\n").length;
    let length = lines.join("\n").length;
    for (const [i, job] of health.failedJobs.entries()) {
      const line =
        `- **${escapeMarkdown(job.workflow)}** › ${escapeMarkdown(job.name)}` +
        (job.failed_step ? ` failed at step _${escapeMarkdown(job.failed_step)}_` : " failed") +
        (job.passed_on_this_commit ? " — looks flaky: the same job passed on this commit" : "");
      if (length + line.length + 1 > budget) {
        lines.push(`- …and ${health.failedJobs.length - i} more failed jobs`);
        break;
      }
      lines.push(line);
      length += line.length + 1;
    }
  }
  return { title, summary: [...lines, ...tail].join("\n") };
}
