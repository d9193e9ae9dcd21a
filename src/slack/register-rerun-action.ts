import type { App, BlockAction, ButtonAction, RespondFn } from "@slack/bolt";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { escapeSlack, SLACK_ACTIONS } from "../alerts/render-slack.js";
import type { SlackClient } from "../alerts/slack-client.js";
import { findActionBuild } from "../db/channel-builds.js";
import { claimSlackAction, findSlackLink } from "../db/slack-links.js";
import { replyToPress, tellPresser } from "./reply.js";
import type { GithubClients } from "../github/github-clients.js";

export interface RerunActionDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  /** GitHub's clients; a rate limit met here pauses the installation's other work too. */
  github: GithubClients;
  slack: SlackClient | null;
}

const WRITERS = new Set(["admin", "maintain", "write"]);

/**
 * "Re-run failed jobs":
 * 1. acknowledge the press
 * 2. find the build and the presser's linked GitHub login (unlinked: ask them to link)
 * 3. check that login may write to the repository, with the installation's token
 * 4. claim the press, so Slack's retries of it do not reach GitHub again
 * 5. ask GitHub to re-run the failed jobs, and say so in the thread
 */
export function registerRerunAction(app: App, deps: RerunActionDeps): void {
  app.action<BlockAction<ButtonAction>>(SLACK_ACTIONS.rerunFailedJobs, async ({ ack, body, action, respond }) => {
    await ack();
    const log = deps.log.child({ slackTeam: body.team?.id, slackUser: body.user.id, buildId: action.value });
    try {
      await rerun(body, action, respond, log);
    } catch (error) {
      log.error({ err: error }, "re-run from Slack failed: is GitHub reachable and the app installed on the repository?");
      await tellPresser(respond, "Runboard could not reach GitHub to re-run the jobs. Try again in a minute.", log);
    }
  });

  async function rerun(body: BlockAction<ButtonAction>, action: ButtonAction, respond: RespondFn, log: Logger): Promise<void> {
    const build = /^\d{1,15}$/.test(action.value ?? "") ? await findActionBuild(deps.pool, Number(action.value)) : null;
    if (!build) return tellPresser(respond, "That build is not in Runboard any more.", log);

    const link = await findSlackLink(deps.pool, { teamId: body.team?.id ?? "", userId: body.user.id });
    if (!link) {
      return tellPresser(respond, "Link your Slack user to your GitHub login first: run `/builds link`.", log);
    }
    if (!deps.github.ready() || build.installation_id == null) {
      return tellPresser(respond, "Runboard has no GitHub App installation for this repository, so it cannot re-run jobs.", log);
    }
    const [owner, repo] = build.repository.split("/") as [string, string];
    const octokit = await deps.github.installation(build.installation_id);

    const permission = await octokit
      .request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", { owner, repo, username: link.github_login })
      .then((response) => response.data.permission, (error: { status?: number }) => {
        if (error.status === 404) return "none";
        throw error;
      });
    if (!WRITERS.has(permission)) {
      log.info({ login: link.github_login, permission }, "re-run refused: no write access");
      return tellPresser(
        respond,
        `Your GitHub login ${escapeSlack(link.github_login)} cannot re-run jobs in ${escapeSlack(build.repository)} (write access is needed).`,
        log,
      );
    }

    const actionKey = `rerun:${body.team?.id ?? ""}:${body.user.id}:${action.action_ts}:${build.id}`;
    if (!(await claimSlackAction(deps.pool, actionKey, deps.now()))) {
      log.info("re-run press already handled (Slack retry)");
      return;
    }
    try {
      await octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", {
        owner,
        repo,
        run_id: build.external_id,
      });
    } catch (error) {
      log.warn({ err: error }, "GitHub refused the re-run");
      const status = (error as { status?: number }).status;
      return tellPresser(respond, `GitHub refused the re-run${status ? ` (HTTP ${status})` : ""}. Try again from GitHub.`, log);
    }
    log.info({ login: link.github_login, runId: build.external_id }, "re-run of failed jobs requested");
    await replyToPress(
      body,
      respond,
      deps.slack,
      `Re-run of attempt ${build.run_attempt} requested by <@${body.user.id}>; attempt ${build.run_attempt + 1} will show here.`,
      log,
    );
  }
}
