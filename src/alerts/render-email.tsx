import { AlertEmail } from "../../views/alert-email.js";
import { annotationPlace } from "../domain/failure-insight.js";
import { capitalize, firstLine, formatDuration, oneLine, shortSha } from "../domain/format.js";
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
      for (const note of [job.seenBefore, job.flaky]) if (note) lines.push(`  ${capitalize(note)}`);
      for (const a of job.annotations) {
        lines.push(`  * ${annotationPlace(a) ? `${annotationPlace(a)}: ` : ""}${oneLine(a.message)}${a.url ? ` <${a.url}>` : ""}`);
      }
      if (job.lines.length > 0) lines.push("", ...job.lines.map((line) => `    | ${line}`), "");
      else if (job.missingReason) lines.push(`  No error excerpt: ${job.missingReason}.`);
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

