import type { CommitHealth, CommitWorkflow, FailedJob } from "../db/commit-health.js";
import { annotationPlace, fileUrl } from "../domain/failure-insight.js";
import { firstLine, formatDuration, oneLine, shortSha } from "../domain/format.js";

/** GitHub refuses a check run summary longer than this. */
export const SUMMARY_LIMIT = 65_535;

/** On this many other recent commits a job failed and passed before it "fails often without code changes". */
export const FLAKY_COMMITS = 2;

/** Invisible, and it ends a word: GitHub's linkers no longer see an address, mention or reference. */
const WORD_JOINER = "\u2060";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  // An entity, not `\$`: GitHub's math delimiters are not CommonMark punctuation escapes.
  $: "&#36;",
  // GitHub links @mentions and #references in the rendered text, where a backslash is gone.
  "@": `@${WORD_JOINER}`,
  "#": `\\#${WORD_JOINER}`,
};

/**
 * Escapes text from GitHub (names, branches, commit messages) for Markdown: it cannot open a
 * link, an image, HTML, emphasis, code or math, cannot be turned into an autolink, a mention or
 * an issue reference, and cannot break out of a table cell or a line.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n|[\r\n\u2028\u2029]/g, " ")
    .replace(/[&<>$@#\\`*_{}[\]()!|~]/g, (ch) => ESCAPES[ch] ?? `\\${ch}`)
    .replace(/:(?=\/\/)/g, `:${WORD_JOINER}`)
    .replace(/\b(www)(?=\.)/gi, `$1${WORD_JOINER}`);
}

/** At most `max` characters (code points, so no surrogate pair is split), with an ellipsis when cut. */
function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** Bytes of UTF-8: never less than the characters GitHub counts, however it counts them. */
const size = (text: string) => Buffer.byteLength(text, "utf8");

/** A commit id in a code span: only hex passes as is (a backtick there would end the span). */
function sha(value: string): string {
  return /^[0-9a-f]+$/i.test(value) ? `\`${shortSha(value)}\`` : escapeMarkdown(shortSha(value));
}

/** Only a plain web address from GitHub becomes a link target; anything else stays text. */
function safeUrl(url: string | null): string | null {
  return url && /^https?:\/\/[^\s()<>\\[\]]+$/.test(url) ? url : null;
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

function workflowRow(w: CommitWorkflow, dashboardUrl: string): string {
  const lastGreen = w.last_green_sha
    ? `${sha(w.last_green_sha)}${w.last_green_message ? ` ${escapeMarkdown(clip(firstLine(w.last_green_message), 60))}` : ""}`
    : "–";
  return (
    `| [${escapeMarkdown(w.workflow)}](${dashboardUrl}/builds/${w.build_id}) | ${ICONS[w.status] ?? ""} ${w.status} | ` +
    `${formatDuration(w.duration_seconds)}${versusUsual(w.duration_seconds, w.usual_p50)} | ${formatDuration(w.usual_p50)} | ` +
    `${w.recent_runs ? `${w.recent_failed} failed` : "–"} | ${lastGreen} |`
  );
}

function failedJobLine(job: FailedJob): string {
  const url = safeUrl(job.url);
  const name = url ? `[${escapeMarkdown(job.name)}](${url})` : escapeMarkdown(job.name);
  const signs = [
    ...(job.passed_on_this_commit ? ["the same job passed on this commit"] : []),
    ...(job.flaky_commits >= FLAKY_COMMITS
      ? [`it failed and passed without a code change on ${job.flaky_commits} other commits in the last 30 days`]
      : []),
  ];
  return (
    `- **${escapeMarkdown(job.workflow)}** › ${name}` +
    (job.failed_step ? ` failed at step _${escapeMarkdown(job.failed_step)}_` : " failed") +
    (signs.length ? ` — looks flaky: ${signs.join(", and ")}` : "") +
    failureDetail(job)
  );
}

/** Annotations and excerpt lines shown per failed job at most, so that many failed jobs still fit. */
const MAX_SUMMARY_ANNOTATIONS = 5;

/**
 * A failed job's annotations (path and line linked to the file at the commit) and its error
 * excerpt as a code block nested in its list item. The fence is longer than any run of
 * backticks in the excerpt, so nothing in the log can close it; inside it nothing is rendered.
 */
function failureDetail(job: FailedJob): string {
  const out: string[] = [];
  for (const a of (job.annotations ?? []).slice(0, MAX_SUMMARY_ANNOTATIONS)) {
    const place = annotationPlace(a);
    const url = place ? safeUrl(fileUrl(job.run_url ?? job.url, job.commit_sha, a.path!, a.line)) : null;
    const where = place ? (url ? `[${escapeMarkdown(place)}](${url}) ` : `${escapeMarkdown(place)} `) : "";
    out.push(`  - ${where}${escapeMarkdown(clip(oneLine(a.message), 300))}`);
  }
  const lines = job.excerpt ?? [];
  if (lines.length > 0) {
    const longest = Math.max(0, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((run) => run.length))));
    const fence = "`".repeat(Math.max(3, longest + 1));
    out.push("", `  ${fence}text`, ...lines.map((l) => `  ${l}`), `  ${fence}`, "");
  }
  return out.length ? `\n${out.join("\n")}` : "";
}

/**
 * The lines that fit in `budget` bytes (with their newlines); when some do not, as many as fit
 * beside the line `more(count)` saying how many were left out.
 */
function fit(lines: string[], budget: number, more: (count: number) => string): string[] {
  const cost = (line: string) => size(line) + 1;
  if (lines.reduce((total, line) => total + cost(line), 0) <= budget) return lines;
  const room = budget - cost(more(lines.length));
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + cost(line) > room) break;
    kept.push(line);
    used += cost(line);
  }
  return [...kept, more(lines.length - kept.length)];
}

/** Room kept for the failed-jobs heading and its first lines when workflows are many. */
const FAILED_JOBS_RESERVE = 2_000;

/**
 * The "Runboard" check run's title and Markdown summary for one commit: its workflows with
 * result, duration against the usual, recent failures and last green commit on the default
 * branch; its failed jobs with the failed step and signs of flakiness; a link to the dashboard.
 * Kept under GitHub's cap: workflows and failed jobs beyond what fits are counted instead.
 */
export function renderCheckRunSummary(
  health: CommitHealth,
  options: { repository: string; headSha: string; defaultBranch: string | null; dashboardUrl: string },
): { title: string; summary: string } {
  const count = health.workflows.length;
  const failed = health.workflows.filter((w) => w.status === "failed").length;
  const plural = count === 1 ? "" : "s";
  const title = failed > 0 ? `${failed} of ${count} workflow${plural} failed` : `${count} workflow${plural}, none failed`;
  const defaultBranch = escapeMarkdown(clip(options.defaultBranch ?? "main", 100));

  const branch = health.commit?.branch;
  const subject = firstLine(health.commit?.message);
  const head = [
    `### CI health of ${sha(options.headSha)}${branch ? ` on ${escapeMarkdown(clip(branch, 200))}` : ""}`,
    ...(subject ? ["", escapeMarkdown(clip(subject, 200))] : []),
    "",
  ];
  const tail = ["", `[Open ${escapeMarkdown(options.repository)} in Runboard](${options.dashboardUrl}/builds?repository=${encodeURIComponent(options.repository)})`];
  let budget = SUMMARY_LIMIT - size([...head, ...tail].join("\n")) - 2;

  const tableHead = [
    `| Workflow | Result | Duration | Usual on this branch (p50) | Last 10 on ${defaultBranch} | Last green on ${defaultBranch} |`,
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const table =
    count === 0
      ? ["No run of this commit is recorded yet."]
      : [
          ...tableHead,
          ...fit(
            health.workflows.map((w) => workflowRow(w, options.dashboardUrl)),
            budget - size(tableHead.join("\n")) - 1 - (health.failedJobs.length ? FAILED_JOBS_RESERVE : 0),
            // The blank line ends the table, or the line would be read as one more row.
            (n) => `\n- …and ${n} more workflows`,
          ),
        ];
  budget -= size(table.join("\n")) + 1;

  const jobs =
    health.failedJobs.length === 0
      ? []
      : ["", "#### Failed jobs", "", ...fit(health.failedJobs.map(failedJobLine), budget - 20, (n) => `- …and ${n} more failed jobs`)];

  return { title, summary: [...head, ...table, ...jobs, ...tail].join("\n") };
}
