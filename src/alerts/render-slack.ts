import { firstLine, formatDuration, shortSha } from "../domain/format.js";
import { headline, type AlertContent } from "./alert-content.js";

/**
 * Escapes text for Slack mrkdwn: `&`, `<` and `>` are control characters there (links,
 * mentions such as <!channel>), so text from GitHub cannot ping anyone or forge a link.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A link in mrkdwn; the label is escaped and `|` in it cannot end the address part. */
function link(url: string, label: string): string {
  return `<${url.replace(/[<>|\s]/g, encodeURIComponent)}|${escapeSlack(label).replace(/\|/g, "¦")}>`;
}

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

/** An alert as a Block Kit message, with a plain-text fallback for notifications. */
export function renderSlack(content: AlertContent): SlackMessage {
  const icon = { broken: ":red_circle:", still_failing: ":red_circle:", fixed: ":large_green_circle:", test: ":wave:" }[
    content.kind
  ];
  const title = headline(content);
  const b = content.build;
  const blocks: unknown[] = [{ type: "section", text: { type: "mrkdwn", text: `${icon} *${escapeSlack(title)}*` } }];
  if (b) {
    const fields = [
      `*Commit*\n${content.githubUrl ? link(content.githubUrl, shortSha(b.commit_sha) || "run") : escapeSlack(shortSha(b.commit_sha))} ${escapeSlack(firstLine(b.commit_message).slice(0, 300))}`,
      `*Triggered by*\n${escapeSlack(b.triggered_by ?? "–")}`,
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
      .map((job) => `• ${job.url ? link(job.url, job.name) : escapeSlack(job.name)}${job.failedStep ? ` — step _${escapeSlack(job.failedStep)}_` : ""}`);
    if (content.failedJobs.length > 10) jobs.push(`…and ${content.failedJobs.length - 10} more`);
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `*Failed jobs*\n${jobs.join("\n")}` } });
  }
  const buttons: unknown[] = [
    { type: "button", text: { type: "plain_text", text: "Open in dashboard" }, url: content.dashboardUrl, action_id: "open_dashboard" },
  ];
  if (content.githubUrl) {
    buttons.push({ type: "button", text: { type: "plain_text", text: "Open on GitHub" }, url: content.githubUrl, action_id: "open_github" });
  }
  blocks.push({ type: "actions", elements: buttons });
  return { text: escapeSlack(title), blocks };
}
