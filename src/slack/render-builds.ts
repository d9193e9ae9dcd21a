import type { Build } from "../db/builds.js";
import type { FlakyWorkflow } from "../db/channel-builds.js";
import type { MetricsSummary } from "../db/build-metrics.js";
import type { QueueTotal } from "../db/job-metrics.js";
import { escapeSlack, rerunButton, slackLink, SLACK_ACTIONS } from "../alerts/render-slack.js";
import { firstLine, formatDuration, formatPercent, httpUrl } from "../domain/format.js";

/** A `/builds` answer: Block Kit with a plain-text fallback, seen by the asker only unless shared. */
export interface BuildsAnswer {
  response_type: "ephemeral" | "in_channel";
  text: string;
  blocks: unknown[];
}

const STATUS_ICONS: Record<string, string> = {
  success: ":large_green_circle:",
  failed: ":red_circle:",
  running: ":large_blue_circle:",
  queued: ":white_circle:",
  cancelled: ":black_circle:",
  skipped: ":white_circle:",
};

function section(text: string): unknown {
  return { type: "section", text: { type: "mrkdwn", text } };
}

function dashboardButton(url: string): unknown {
  return { type: "button", text: { type: "plain_text", text: "Open in dashboard" }, url, action_id: SLACK_ACTIONS.openDashboard };
}

/**
 * Recent builds, one line each, newest first: status, repository · workflow on branch (linked to
 * the dashboard), commit title, who, how long; a failed build's first error line when it was
 * read. Failed builds carry "Re-run failed jobs".
 * @param title what was asked, already plain text (escaped here).
 */
export function renderBuildList(
  builds: Build[],
  options: { title: string; baseUrl: string; dashboardPath: string; errorLines?: Map<number, string> },
): BuildsAnswer {
  const blocks: unknown[] = [section(`*${escapeSlack(options.title)}*`)];
  if (builds.length === 0) {
    blocks.push(section("No builds found."));
  }
  for (const b of builds) {
    const where = `${b.repository} · ${b.workflow} on ${b.branch ?? "?"}`;
    const github = httpUrl(b.url);
    const line = [
      `${STATUS_ICONS[b.status] ?? ""} ${slackLink(`${options.baseUrl}/builds/${b.id}`, where)} · ${escapeSlack(b.status)}`,
      `${escapeSlack(firstLine(b.commit_message).slice(0, 120))}`,
      `by ${escapeSlack(b.triggered_by ?? "–")} · ${formatDuration(b.duration_seconds)}${github ? ` · ${slackLink(github, "GitHub")}` : ""}`,
      ...(options.errorLines?.has(b.id) ? [`\`${escapeSlack(options.errorLines.get(b.id)!.slice(0, 200)).replace(/`/g, "ˋ")}\``] : []),
    ].join("\n");
    blocks.push({ ...(section(line) as object), ...(b.status === "failed" ? { accessory: rerunButton(b.id) } : {}) });
  }
  blocks.push({ type: "actions", elements: [dashboardButton(`${options.baseUrl}${options.dashboardPath}`)] });
  return { response_type: "ephemeral", text: escapeSlack(options.title), blocks };
}

/**
 * `/builds stats`: success rate, p50/p95 duration, queue time, estimated minutes and the
 * flakiest workflows over the window.
 */
export function renderStats(
  summary: MetricsSummary,
  flaky: FlakyWorkflow[],
  options: { repository: string | null; days: number; baseUrl: string; queue: QueueTotal; estimatedMinutes: number },
): BuildsAnswer {
  const title = `Stats for ${options.repository ?? "all repositories"}, last ${options.days}d`;
  const blocks: unknown[] = [
    section(`*${escapeSlack(title)}*`),
    {
      type: "section",
      fields: [
        `*Builds*\n${summary.total_builds}`,
        `*Success rate*\n${formatPercent(summary.success_rate)} (${summary.by_status.success} ok, ${summary.by_status.failed} failed)`,
        `*p50 duration*\n${formatDuration(summary.p50_duration_seconds)}`,
        `*p95 duration*\n${formatDuration(summary.p95_duration_seconds)}`,
        `*Queue time p50 / p95*\n${formatDuration(options.queue.p50_seconds)} / ${formatDuration(options.queue.p95_seconds)}`,
        `*Estimated minutes*\n${Math.round(options.estimatedMinutes)} (an estimate)`,
      ].map((text) => ({ type: "mrkdwn", text })),
    },
    section(
      flaky.length === 0
        ? "*Flakiest workflows*\nNo flaky runs in this window."
        : `*Flakiest workflows*\n${flaky
            .map((f) => `• ${escapeSlack(`${f.repository} · ${f.workflow}`)}: ${formatPercent(f.flaky_rate)} flaky (${f.flaky} of ${f.decided} runs)`)
            .join("\n")}`,
    ),
  ];
  // One repository: its builds page (the overview shows every repository).
  const path = options.repository ? `/builds?repository=${encodeURIComponent(options.repository)}` : "/";
  blocks.push({ type: "actions", elements: [dashboardButton(`${options.baseUrl}${path}`)] });
  return { response_type: "ephemeral", text: escapeSlack(title), blocks };
}

/** `/builds help`. */
export function renderHelp(): BuildsAnswer {
  const lines = [
    "*/builds* shows CI builds from Runboard.",
    "• `/builds`: recent builds of this channel's repositories (or of all)",
    "• `/builds owner/repo` and `/builds owner/repo main`: recent builds of a repository, of a branch",
    "• `/builds failed` (or `/builds failed owner/repo`): recent failures",
    "• `/builds stats [owner/repo] [7d]`: success rate, p50/p95 duration, queue time, estimated minutes, flakiest workflows",
    "• `/builds digest [7d]`: the digest of this channel's repositories, now",
    "• `/builds link`: link your Slack user to your GitHub login, to re-run jobs from Slack",
  ];
  return { response_type: "ephemeral", text: "How to use /builds", blocks: [section(lines.join("\n"))] };
}

/** An ephemeral one-liner (errors, refusals, the link). `text` is mrkdwn the caller escaped. */
export function renderNotice(text: string): BuildsAnswer {
  return { response_type: "ephemeral", text, blocks: [section(text)] };
}
