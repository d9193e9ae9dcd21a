import { html } from "hono/html";
import { formatDuration, formatPercent } from "../domain/format.js";
import type { DigestContent, DigestItem } from "./digest-content.js";
import type { EmailMessage } from "./render-email.js";
import { escapeSlack, slackLink, type SlackMessage } from "./render-slack.js";

/** Block Kit's limits: blocks per message, characters per section text and per header. */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150 } as const;

const day = (date: Date) => date.toISOString().slice(0, 16).replace("T", " ");

/** "Runboard digest, 2026-06-29 09:00 to 2026-07-06 09:00 UTC" */
export function digestTitle(content: DigestContent): string {
  return `Runboard digest, ${day(content.start)} to ${day(content.end)} UTC`;
}

function change(points: number | null): string {
  if (points === null) return "";
  const rounded = Math.round(points * 10) / 10;
  return rounded === 0 ? " (no change)" : ` (${rounded > 0 ? "+" : ""}${rounded.toFixed(1)} points)`;
}

function trend(fraction: number | null): string {
  if (fraction === null) return "";
  const percent = Math.round(fraction * 100);
  return percent === 0 ? ", steady" : `, ${Math.abs(percent)}% ${percent > 0 ? "slower" : "faster"}`;
}

/** The headline figures as label and value lines, plain text. */
function figures(content: DigestContent): Array<[string, string]> {
  return [
    ["Runs", String(content.runs)],
    ["Success rate", `${formatPercent(content.successRate)}${change(content.successRateChange)}`],
    ["Time to green", content.timeToGreen.fixes === 0 ? "nothing was fixed" : `${formatDuration(content.timeToGreen.medianSeconds)} median (${content.timeToGreen.fixes} fixed)`],
    ["Queue time p95", formatDuration(content.queueP95Seconds)],
    ["Estimated minutes", `${Math.round(content.estimatedMinutes)} (an estimate${content.selfHostedMinutes > 0 ? `; ${content.selfHostedMinutes} more on self-hosted runners` : ""})`],
  ];
}

function lists(content: DigestContent): Array<[string, Array<DigestItem & { extra?: string }>]> {
  return [
    ["Most failing", content.mostFailing],
    ["Flakiest", content.flakiest],
    ["Slowest workflows (p50)", content.slowest.map((s) => ({ ...s, detail: `${formatDuration(s.p50Seconds)}, ${s.detail}${trend(s.trend)}` }))],
    ["Top failures", content.topFailures],
  ];
}

/** A digest as an email: plain text and HTML (every value escaped by the template), one-line subject. */
export function renderDigestEmail(content: DigestContent): EmailMessage {
  const title = digestTitle(content);
  const lines = [title, "", ...figures(content).map(([label, value]) => `${`${label}:`.padEnd(19)}${value}`)];
  for (const [heading, items] of lists(content)) {
    if (items.length === 0) continue;
    lines.push("", `${heading}:`, ...items.map((item) => `- ${item.label}: ${item.detail}  ${item.url}`));
  }
  lines.push("", `Runboard: ${content.dashboardUrl}`, `Runners:  ${content.runnersUrl}`);
  const body = html`<html><body>
<h1 style="font-size:18px">${title}</h1>
<table>${figures(content).map(([label, value]) => html`<tr><th align="left">${label}</th><td>${value}</td></tr>`)}</table>
${lists(content)
  .filter(([, items]) => items.length > 0)
  .map(([heading, items]) => html`<h2 style="font-size:15px">${heading}</h2><ul>${items.map((item) => html`<li><a href="${item.url}">${item.label}</a>: ${item.detail}</li>`)}</ul>`)}
<p><a href="${content.dashboardUrl}">Open Runboard</a> · <a href="${content.runnersUrl}">Runners</a></p>
</body></html>`;
  return { subject: `[Runboard] ${title}`.replace(/[\r\n]+/g, " "), text: `${lines.join("\n")}\n`, html: `<!DOCTYPE html>${body}` };
}

/** Clips mrkdwn to a section's limit without cutting an escape or a link in two. */
function clip(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit - 2);
  const line = cut.lastIndexOf("\n");
  return `${line > 0 ? cut.slice(0, line) : cut.replace(/[&<][^;>]*$/, "")}\n…`;
}

/** A digest as Block Kit (escaped, within Slack's limits) with a plain-text fallback. */
export function renderDigestSlack(content: DigestContent): SlackMessage {
  const title = digestTitle(content);
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: title.slice(0, SLACK_LIMITS.headerText) } },
    { type: "section", fields: figures(content).map(([label, value]) => ({ type: "mrkdwn", text: clip(`*${label}*\n${escapeSlack(value)}`, 2000) })) },
  ];
  for (const [heading, items] of lists(content)) {
    if (items.length === 0) continue;
    const text = `*${heading}*\n${items.map((item) => `• ${slackLink(item.url, item.label)}: ${escapeSlack(item.detail)}`).join("\n")}`;
    blocks.push({ type: "section", text: { type: "mrkdwn", text: clip(text, SLACK_LIMITS.sectionText) } });
  }
  blocks.push({
    type: "actions",
    elements: [
      { type: "button", text: { type: "plain_text", text: "Open in dashboard" }, url: content.dashboardUrl, action_id: "open_dashboard" },
      { type: "button", text: { type: "plain_text", text: "Runners" }, url: content.runnersUrl, action_id: "open_runners" },
    ],
  });
  return { text: escapeSlack(title), blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}
