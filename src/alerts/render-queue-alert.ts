import { html } from "hono/html";
import type { AlertKindName, QueueAlertKind } from "../db/alerts.js";
import { wholeMinutes } from "../domain/queue-time.js";
import type { QueueAlertDetails } from "./queue-time-alerts.js";
import type { EmailMessage } from "./render-email.js";
import { escapeSlack, type SlackMessage } from "./render-slack.js";

/** Whether an alert is about queue time rather than a build. */
export function isQueueAlert(kind: AlertKindName | QueueAlertKind): kind is QueueAlertKind {
  return kind === "queue_slow" || kind === "queue_recovered";
}

/** The details a queue-time alert row carries, read back defensively (rows outlive code). */
export function queueAlertDetails(details: Record<string, unknown>): QueueAlertDetails {
  const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
  return {
    labelSet: typeof details.labelSet === "string" ? details.labelSet : "?",
    repositoryPattern: typeof details.repositoryPattern === "string" ? details.repositoryPattern : "*",
    p95Seconds: num(details.p95Seconds),
    thresholdMinutes: num(details.thresholdMinutes),
    jobs: num(details.jobs),
    over: num(details.over),
  };
}

/** "ubuntu-latest: p95 queue 14 min in the last hour, 12 jobs waited more than 10 min" (plain text). */
export function queueAlertHeadline(kind: "queue_slow" | "queue_recovered", d: QueueAlertDetails): string {
  if (kind === "queue_recovered") {
    return `${d.labelSet}: p95 queue back under ${d.thresholdMinutes} min (${wholeMinutes(d.p95Seconds)} min in the last hour)`;
  }
  return `${d.labelSet}: p95 queue ${wholeMinutes(d.p95Seconds)} min in the last hour, ${d.over} job${d.over === 1 ? "" : "s"} waited more than ${d.thresholdMinutes} min`;
}

/** A queue-time alert as an email and as a Slack message, with a link to the Runners page. */
export function renderQueueAlert(
  kind: "queue_slow" | "queue_recovered",
  details: Record<string, unknown>,
  baseUrl: string,
): { email: EmailMessage; slack: SlackMessage } {
  const d = queueAlertDetails(details);
  const title = queueAlertHeadline(kind, d);
  const link = `${baseUrl}/runners?days=1`;
  const scope = d.repositoryPattern === "*" ? "every repository" : `repositories ${d.repositoryPattern}`;
  const text = [title, "", `Runner labels: ${d.labelSet}`, `Jobs started in the last hour: ${d.jobs} (${scope})`, "", `Runboard: ${link}`].join("\n");
  const icon = kind === "queue_slow" ? ":hourglass_flowing_sand:" : ":white_check_mark:";
  return {
    email: {
      subject: `[Runboard] ${title}`.replace(/[\r\n]+/g, " "),
      text: `${text}\n`,
      html: `<!DOCTYPE html>${html`<html><body><h1 style="font-size:18px">${title}</h1><p>Runner labels: <code>${d.labelSet}</code><br>Jobs started in the last hour: ${d.jobs} (${scope})</p><p><a href="${link}">Open the Runners page</a></p></body></html>`}`,
    },
    slack: {
      text: escapeSlack(title),
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: `${icon} *${escapeSlack(title)}*` } },
        { type: "context", elements: [{ type: "mrkdwn", text: escapeSlack(`${d.jobs} jobs started in the last hour in ${scope}`) }] },
        { type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open Runners" }, url: link, action_id: "open_dashboard" }] },
      ],
    },
  };
}
