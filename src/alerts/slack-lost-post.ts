import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { findSlackChannelId, type DueAlert } from "../db/alerts.js";
import { SlackApiError, findMessage, type SlackClient } from "./slack-client.js";

/** Every Slack alert carries this metadata type with its alert id, so a lost post can be found. */
export const SLACK_ALERT_EVENT_TYPE = "runboard_alert";

/** A look for a lost post starts this long before the alert was written: Postgres's and Slack's clocks differ. */
const LOOK_MARGIN_MS = 5 * 60_000;

/** Slack errors that say nothing lasting about the look: try it again later. */
const TRANSIENT_SLACK_ERRORS = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"]);

/** What a look for a post whose answer was lost found. */
export type Look =
  | { kind: "found"; ts: string; channelId: string }
  | { kind: "absent" }
  /** The look could not be made: the alert is posted again, and `note` says so in its row. */
  | { kind: "blind"; note: string };

/** The message a Slack alert replies to, once that one is sent. */
export function slackThreadOf(alert: Pick<DueAlert, "parent_status" | "parent_slack_ts" | "parent_slack_channel_id">): { channelId: string; ts: string } | null {
  return alert.parent_status === "sent" && alert.parent_slack_ts && alert.parent_slack_channel_id
    ? { channelId: alert.parent_slack_channel_id, ts: alert.parent_slack_ts }
    : null;
}

/**
 * Finds out whether an alert whose answer was lost reached Slack after all, before it is posted
 * again. Each reason a look cannot be made is logged once: it holds until someone changes the setup.
 */
export function createLostPostFinder(deps: { pool: DatabasePool; log: Logger }): (alert: DueAlert, slack: SlackClient) => Promise<Look> {
  const { log } = deps;
  const warned = new Set<string>();

  /**
   * Looks in Slack for the post of an alert whose last send may have arrived: in its thread for
   * a reply, else in its channel's history. Reading history needs a channel id; a `#name` is
   * resolved from the id Slack answered for an earlier alert to that name.
   */
  async function lookForLostPost(alert: DueAlert, slack: SlackClient): Promise<Look> {
    const thread = slackThreadOf(alert);
    const target = alert.target[0] ?? "";
    const channelId = thread?.channelId ?? (isSlackChannelId(target) ? target : await findSlackChannelId(deps.pool, target));
    if (!channelId) {
      return blind(alert, `no-id:${target}`, `no channel id known for ${target} yet`, "name the channel by its id (C…) in SLACK_ALERT_CHANNEL or the route");
    }
    try {
      const found = await findMessage(slack, {
        channelId,
        ...(thread ? { threadTs: thread.ts } : {}),
        oldest: new Date(alert.created_at.getTime() - LOOK_MARGIN_MS),
        matches: (m) => m.event_type === SLACK_ALERT_EVENT_TYPE && m.event_payload.alert_id === alert.id,
      });
      return found ? { kind: "found", ts: found.ts, channelId } : { kind: "absent" };
    } catch (error) {
      if (!(error instanceof SlackApiError) || error.code.startsWith("HTTP ") || TRANSIENT_SLACK_ERRORS.has(error.code)) throw error;
      const todo =
        error.code === "missing_scope"
          ? "add the bot scopes channels:history and groups:history to the Slack app and reinstall it"
          : error.code === "not_in_channel"
            ? "invite the bot to the channel"
            : "check the Slack app's setup";
      return blind(alert, error.code, error.message, todo);
    }
  }

  function blind(alert: DueAlert, key: string, reason: string, todo: string): Look {
    if (!warned.has(key)) {
      warned.add(key);
      log.warn(
        { alertId: alert.id, target: alert.target[0], reason },
        `cannot look in Slack for an alert whose answer was lost, so it is posted again and may show twice: ${todo}`,
      );
    }
    return { kind: "blind", note: `posted again without looking for the earlier post whose answer was lost (${reason})` };
  }

  return lookForLostPost;
}

/** Slack conversation ids (C, G, D and capitals); names are lower case, and routes write them with `#`. */
function isSlackChannelId(target: string): boolean {
  return /^[CGD][A-Z0-9]{2,}$/.test(target);
}
