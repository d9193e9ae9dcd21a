import type { BlockAction, RespondFn } from "@slack/bolt";
import type { Logger } from "pino";
import type { SlackClient } from "../alerts/slack-client.js";

/**
 * Answers a button press in the thread of the message that had the button, for the whole
 * channel to see; where there is no such message (an ephemeral `/builds` answer) or no bot
 * token, through the press's response_url to the presser alone. `text` is escaped mrkdwn.
 */
export async function replyToPress(
  body: BlockAction,
  respond: RespondFn,
  slack: SlackClient | null,
  text: string,
  log: Logger,
): Promise<void> {
  try {
    const message = body.message as { ts?: string; thread_ts?: string } | undefined;
    const container = body.container as { is_ephemeral?: boolean } | undefined;
    if (slack && body.channel?.id && message?.ts && !container?.is_ephemeral) {
      await slack.postMessage({ channel: body.channel.id, thread_ts: message.thread_ts ?? message.ts, text });
      return;
    }
    await respond({ response_type: "ephemeral", replace_original: false, text });
  } catch (error) {
    log.error({ err: error }, "could not answer a Slack button press");
  }
}

/** A refusal or problem only the presser sees. */
export async function tellPresser(respond: RespondFn, text: string, log: Logger): Promise<void> {
  try {
    await respond({ response_type: "ephemeral", replace_original: false, text });
  } catch (error) {
    log.error({ err: error }, "could not answer through Slack's response_url");
  }
}
