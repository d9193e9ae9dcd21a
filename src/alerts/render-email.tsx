import { AlertEmail } from "../../views/alert-email.js";
import { firstLine, formatDuration, shortSha } from "../domain/format.js";
import { headline, type AlertContent } from "./alert-content.js";

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

/** An alert as an email: plain text and HTML (escaped by JSX), one-line subject. */
export function renderEmail(content: AlertContent): EmailMessage {
  const title = headline(content);
  const b = content.build;
  const lines = [title, ""];
  if (b) {
    lines.push(
      `Repository:   ${b.repository}`,
      `Workflow:     ${b.workflow}`,
      `Branch:       ${b.branch ?? ""}`,
      `Commit:       ${shortSha(b.commit_sha)} ${firstLine(b.commit_message)}`,
      `Triggered by: ${b.triggered_by ?? ""}`,
      `Duration:     ${formatDuration(b.duration_seconds)}`,
    );
    if (content.kind === "fixed") {
      lines.push(`Time to green: ${formatDuration(content.timeToGreenSeconds)} (${content.failedRuns ?? 0} failed runs)`);
    }
  }
  if (content.failedJobs.length > 0) {
    lines.push("", "Failed jobs:");
    for (const job of content.failedJobs) {
      lines.push(`- ${job.name}${job.failedStep ? ` (failed at step "${job.failedStep}")` : ""}`);
    }
  }
  lines.push("", `Runboard: ${content.dashboardUrl}`);
  if (content.githubUrl) lines.push(`GitHub:   ${content.githubUrl}`);
  return {
    // Header values must stay on one line whatever a branch or workflow name holds.
    subject: `[Runboard] ${title}`.replace(/[\r\n]+/g, " "),
    text: `${lines.join("\n")}\n`,
    html: `<!DOCTYPE html>${(<AlertEmail content={content} title={title} />).toString()}`,
  };
}
