import type { App, RespondFn } from "@slack/bolt";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { escapeSlack } from "../alerts/render-slack.js";
import { getMetricsSummary } from "../db/build-metrics.js";
import { getFlakiestWorkflows, listChannelBuilds } from "../db/channel-builds.js";
import { getFirstErrorLines } from "../db/failure-excerpts.js";
import { createLinkCode } from "../db/slack-links.js";
import { parseBuildsCommand, type BuildsCommand } from "../domain/parse-builds-command.js";
import { findChannelRepositories } from "./channel-repositories.js";
import { renderBuildList, renderHelp, renderNotice, renderStats, type BuildsAnswer } from "./render-builds.js";
import { loadDigestContent } from "../alerts/digest-content.js";
import { renderDigestSlack } from "../alerts/render-digest.js";
import { listActiveRepositories } from "../db/digest-figures.js";
import { getQueueTotal, getUsageGroups } from "../db/job-metrics.js";
import { estimateUsage, totalUsage, type RunnerMultiplier } from "../domain/runner-minutes.js";

export interface BuildsCommandDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  baseUrl: string;
  alertChannel: string | null;
  /** Larger runners' multipliers, for estimated minutes. */
  runnerMultipliers: readonly RunnerMultiplier[];
}

const LIST_LIMIT = 10;

/**
 * `/builds`: acknowledged at once (Slack waits 3 s at most), then answered through
 * `response_url` once the database has.
 */
export function registerBuildsCommand(app: App, deps: BuildsCommandDeps): void {
  app.command("/builds", async ({ command, ack, respond }) => {
    await ack();
    const log = deps.log.child({ slackTeam: command.team_id, slackUser: command.user_id });
    try {
      await respond(await answer(parseBuildsCommand(command.text ?? ""), command));
    } catch (error) {
      log.error({ err: error }, "/builds failed");
      await respondQuietly(respond, renderNotice("Sorry, Runboard could not answer that just now. Try again in a minute."), log);
    }
  });

  async function answer(
    parsed: BuildsCommand,
    command: { team_id: string; user_id: string; channel_id: string; channel_name?: string },
  ): Promise<BuildsAnswer> {
    switch (parsed.kind) {
      case "help":
        return renderHelp();
      case "invalid":
        return renderNotice(`${escapeSlack(parsed.message)}. Try \`/builds help\`.`);
      case "link": {
        const code = await createLinkCode(deps.pool, { teamId: command.team_id, userId: command.user_id }, deps.now());
        return renderNotice(
          `Open ${deps.baseUrl}/slack/link/${code} within 15 minutes, logged in to Runboard with GitHub, to link your Slack user to your GitHub login. Only you can see this link: do not share it.`,
        );
      }
      case "stats": {
        const now = deps.now();
        const since = new Date(now.getTime() - parsed.days * 86_400_000);
        const repository = parsed.repository ?? undefined;
        const [summary, flaky, queue, usage] = await Promise.all([
          getMetricsSummary(deps.pool, { days: parsed.days, now, repository }),
          getFlakiestWorkflows(deps.pool, { repository: parsed.repository, days: parsed.days, now, limit: 3 }),
          getQueueTotal(deps.pool, { since, until: now, now, repository }),
          getUsageGroups(deps.pool, { since, until: now, repository }),
        ]);
        return renderStats(summary, flaky, {
          repository: parsed.repository,
          days: parsed.days,
          baseUrl: deps.baseUrl,
          queue,
          estimatedMinutes: totalUsage(estimateUsage(usage, deps.runnerMultipliers)).estimated_minutes,
        });
      }
      case "digest": {
        // The channel's repositories (or all), over the window: what a scheduled digest would say.
        const now = deps.now();
        const start = new Date(now.getTime() - parsed.days * 86_400_000);
        const channelRepositories = await findChannelRepositories(deps.pool, { id: command.channel_id, name: command.channel_name ?? null }, deps.alertChannel);
        const active = await listActiveRepositories(deps.pool, { start, end: now, now });
        const repositories = channelRepositories ? active.filter((r) => channelRepositories.includes(r)) : active;
        if (repositories.length === 0) return renderNotice(`No runs of this channel's repositories in the last ${parsed.days}d.`);
        const content = await loadDigestContent(deps.pool, { repositories, start, end: now, now, baseUrl: deps.baseUrl, multipliers: deps.runnerMultipliers });
        return { response_type: "ephemeral", ...renderDigestSlack(content) };
      }
      case "recent": {
        const repositories = parsed.repository
          ? [parsed.repository]
          : await findChannelRepositories(deps.pool, { id: command.channel_id, name: command.channel_name ?? null }, deps.alertChannel);
        const builds = await listChannelBuilds(deps.pool, {
          repositories,
          branch: parsed.branch,
          failedOnly: parsed.failedOnly,
          limit: LIST_LIMIT,
        });
        const what = parsed.failedOnly ? "Recent failed builds" : "Recent builds";
        const where = parsed.repository
          ? ` of ${parsed.repository}${parsed.branch ? ` on ${parsed.branch}` : ""}`
          : repositories
            ? " of this channel's repositories"
            : "";
        const query = new URLSearchParams();
        if (parsed.repository) query.set("repository", parsed.repository);
        if (parsed.branch) query.set("branch", parsed.branch);
        if (parsed.failedOnly) query.set("status", "failed");
        const search = query.size > 0 ? `?${query}` : "";
        const errorLines = await getFirstErrorLines(deps.pool, builds.filter((b) => b.status === "failed").map((b) => b.id));
        return renderBuildList(builds, { title: `${what}${where}`, baseUrl: deps.baseUrl, dashboardPath: `/builds${search}`, errorLines });
      }
    }
  }
}

/** Answers through response_url; a failure there is only logged (the asker may retry). */
export async function respondQuietly(respond: RespondFn, message: BuildsAnswer, log: Logger): Promise<void> {
  try {
    await respond(message);
  } catch (error) {
    log.error({ err: error }, "could not answer through Slack's response_url");
  }
}
