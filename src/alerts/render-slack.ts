import { annotationPlace } from "../domain/failure-insight.js";
import { capitalize, firstLine, formatDuration, oneLine, shortSha } from "../domain/format.js";
import { headline, type AlertContent, type FailedJobContent } from "./alert-content.js";

/** Block Kit takes at most this many characters in a section's text. */
export const SLACK_SECTION_LIMIT = 3_000;
/** Failed jobs whose error is shown (a section each), so a message stays far under Slack's 50 blocks. */
const MAX_EXCERPTS = 3;

/**
 * Escapes text for Slack mrkdwn: `&`, `<` and `>` are control characters there (links,
 * mentions such as <!channel>), so text from GitHub cannot ping anyone or forge a link.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A link in mrkdwn; the label is escaped and `|` in it cannot end the address part. */
export function slackLink(url: string, label: string): string {
  return `<${url.replace(/[<>|\s]/g, encodeURIComponent)}|${escapeSlack(label).replace(/\|/g, "¦")}>`;
}

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

/** Action ids of the buttons on alerts and `/builds` answers (the Slack app listens for them). */
export const SLACK_ACTIONS = {
  rerunFailedJobs: "rerun_failed_jobs",
  mute1h: "mute_workflow_1h",
  mute1d: "mute_workflow_1d",
  openDashboard: "open_dashboard",
  openGithub: "open_github",
} as const;

/** "Re-run failed jobs" for a failed build; the value is the build's id in Runboard. */
export function rerunButton(buildId: number): unknown {
  return {
    type: "button",
    text: { type: "plain_text", text: "Re-run failed jobs" },
    action_id: SLACK_ACTIONS.rerunFailedJobs,
    value: String(buildId),
  };
}

/** "Mute this workflow for 1h / 1d"; the value is the build's id, whose workflow is muted. */
export function muteButtons(buildId: number): unknown[] {
  return [
    { type: "button", text: { type: "plain_text", text: "Mute this workflow for 1h" }, action_id: SLACK_ACTIONS.mute1h, value: String(buildId) },
    { type: "button", text: { type: "plain_text", text: "Mute for 1d" }, action_id: SLACK_ACTIONS.mute1d, value: String(buildId) },
  ];
}

export interface RenderSlackOptions {
  /**
   * The Slack user linked to the GitHub login that triggered the run. It comes from our own
   * table of links (a Slack id, never text from GitHub), so it is written as a mention.
   */
  triggeredBySlackUserId?: string | null;
}

/** An alert as a Block Kit message, with a plain-text fallback for notifications. */
export function renderSlack(content: AlertContent, options: RenderSlackOptions = {}): SlackMessage {
  const icon = { broken: ":red_circle:", still_failing: ":red_circle:", fixed: ":large_green_circle:", test: ":wave:" }[
    content.kind
  ];
  const title = headline(content);
  const b = content.build;
  const blocks: unknown[] = [{ type: "section", text: { type: "mrkdwn", text: `${icon} *${escapeSlack(title)}*` } }];
  if (b) {
    const fields = [
      `*Commit*\n${content.githubUrl ? slackLink(content.githubUrl, shortSha(b.commit_sha) || "run") : escapeSlack(shortSha(b.commit_sha))} ${escapeSlack(firstLine(b.commit_message).slice(0, 300))}`,
      `*Triggered by*\n${escapeSlack(b.triggered_by ?? "–")}${mention(options.triggeredBySlackUserId)}`,
      `*Duration*\n${formatDuration(b.duration_seconds)}`,
    ];
    if (content.kind === "fixed") {
      fields.push(`*Time to green*\n${formatDuration(content.timeToGreenSeconds)} (${content.failedRuns ?? 0} failed runs)`);
    }
    blocks.push({ type: "section", fields: fields.map((text) => ({ type: "mrkdwn", text })) });
  }
  if (content.failedJobs.length > 0) {
    const jobs = content.failedJobs
      .slice(0, 10)
      .map((job) => `• ${job.url ? slackLink(job.url, job.name) : escapeSlack(job.name)}${job.failedStep ? ` — step _${escapeSlack(job.failedStep)}_` : ""}`);
    if (content.failedJobs.length > 10) jobs.push(`…and ${content.failedJobs.length - 10} more`);
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `*Failed jobs*\n${jobs.join("\n")}` } });
    for (const job of content.failedJobs.filter((j) => j.lines.length > 0 || j.annotations.length > 0 || j.seenBefore || j.flaky).slice(0, MAX_EXCERPTS)) {
      blocks.push({ type: "section", text: { type: "mrkdwn", text: errorSection(job) } });
    }
  }
  const buttons: unknown[] = [
    { type: "button", text: { type: "plain_text", text: "Open in dashboard" }, url: content.dashboardUrl, action_id: "open_dashboard" },
  ];
  if (content.githubUrl) {
    buttons.push({ type: "button", text: { type: "plain_text", text: "Open on GitHub" }, url: content.githubUrl, action_id: "open_github" });
  }
  if (b && (content.kind === "broken" || content.kind === "still_failing")) {
    if (b.status === "failed") buttons.push(rerunButton(b.id));
    buttons.push(...muteButtons(b.id));
  }
  blocks.push({ type: "actions", elements: buttons });
  return { text: escapeSlack(title), blocks };
}

/** ` (<@U…>)` for a Slack user id of the expected shape; nothing otherwise. */
function mention(slackUserId: string | null | undefined): string {
  return slackUserId && /^[UW][A-Z0-9]{2,20}$/.test(slackUserId) ? ` (<@${slackUserId}>)` : "";
}

/** At most `max` characters (code points), with an ellipsis when cut. */
function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * One failed job's error as a section: its name, "seen before", its first annotation as text
 * (linked to the file at the commit), then the excerpt in a code block, its first lines left
 * out when the section would pass SLACK_SECTION_LIMIT. Everything escaped; a backtick in the
 * log cannot end the code block.
 */
function errorSection(job: FailedJobContent): string {
  const head: string[] = [`*${escapeSlack(clip(job.name, 200))}*`];
  for (const note of [job.seenBefore, job.flaky]) if (note) head.push(`_${escapeSlack(capitalize(note))}_`);
  // GitHub's own annotation ("Process completed with exit code 1.") names no file and says least.
  const first = job.annotations.find((a) => a.path) ?? job.annotations[0];
  if (first) {
    const place = annotationPlace(first);
    const where = place ? `${first.url ? slackLink(first.url, place) : `\`${escapeSlack(place).replace(/`/g, "ˋ")}\``} ` : "";
    head.push(`${where}${escapeSlack(clip(oneLine(first.message), 500))}`);
  }
  if (job.lines.length === 0) {
    if (job.missingReason) head.push(`No error excerpt: ${escapeSlack(job.missingReason)}.`);
    return clip(head.join("\n"), SLACK_SECTION_LIMIT);
  }
  const top = `${head.join("\n")}\n\`\`\`\n`;
  const bottom = "\n```";
  const lines = job.lines.map((line) => escapeSlack(line).replace(/`/g, "ˋ"));
  let room = SLACK_SECTION_LIMIT - [...top].length - [...bottom].length;
  const kept: string[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const cost = [...lines[i]!].length + 1;
    if (cost > room) break;
    kept.unshift(lines[i]!);
    room -= cost;
  }
  if (kept.length === 0) return clip(head.join("\n"), SLACK_SECTION_LIMIT);
  return `${top}${kept.join("\n")}${bottom}`;
}
