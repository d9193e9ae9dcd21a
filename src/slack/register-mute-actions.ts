import type { App, BlockAction, ButtonAction } from "@slack/bolt";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { escapeSlack, SLACK_ACTIONS } from "../alerts/render-slack.js";
import type { SlackClient } from "../alerts/slack-client.js";
import { addWorkflowMute } from "../db/alert-mutes.js";
import { findActionBuild } from "../db/channel-builds.js";
import { replyToPress, tellPresser } from "./reply.js";

export interface MuteActionDeps {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  slack: SlackClient | null;
}

const DURATIONS = { [SLACK_ACTIONS.mute1h]: { ms: 3_600_000, label: "1h" }, [SLACK_ACTIONS.mute1d]: { ms: 86_400_000, label: "1d" } };

/**
 * "Mute this workflow for 1h / 1d": a mute of the build's workflow in the alert rules. Anyone in
 * the channel may press it: it only quiets Runboard and writes nothing to GitHub.
 */
export function registerMuteActions(app: App, deps: MuteActionDeps): void {
  for (const [actionId, duration] of Object.entries(DURATIONS)) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      const log = deps.log.child({ slackTeam: body.team?.id, slackUser: body.user.id, buildId: action.value });
      const build = /^\d{1,15}$/.test(action.value ?? "") ? await findActionBuild(deps.pool, Number(action.value)) : null;
      if (!build) return tellPresser(respond, "That build is not in Runboard any more.", log);
      const now = deps.now();
      const until = new Date(now.getTime() + duration.ms);
      await addWorkflowMute(deps.pool, { repository: build.repository, workflow: build.workflow, until }, now);
      log.info({ repository: build.repository, workflow: build.workflow, until }, "workflow muted from Slack");
      await replyToPress(
        body,
        respond,
        deps.slack,
        `Alerts for ${escapeSlack(`${build.repository} · ${build.workflow}`)} muted for ${duration.label} (until <!date^${Math.floor(until.getTime() / 1000)}^{date_short_pretty} {time}|${until.toISOString()}>) by <@${body.user.id}>.`,
        log,
      );
    });
  }
}
