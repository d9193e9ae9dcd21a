import type { CommonQueryMethods } from "slonik";
import { matches, type AlertRules } from "../domain/alert-rules.js";
import { getAlertRules } from "../db/alert-settings.js";
import { listRepositoryNames } from "../db/channel-builds.js";

export interface SlackChannel {
  id: string;
  /** Without `#`, as Slack sends `channel_name`. */
  name: string | null;
}

/**
 * The repositories whose alerts go to this channel: those of routes naming it (by id, `#name`
 * or name), plus those no route claims when it is SLACK_ALERT_CHANNEL. null when the channel is
 * not named anywhere: it then sees every repository.
 */
export function channelRepositories(
  rules: AlertRules,
  channel: SlackChannel,
  alertChannel: string | null,
  repositories: readonly string[],
): string[] | null {
  const names = new Set([channel.id, ...(channel.name ? [channel.name, `#${channel.name}`] : [])]);
  const isChannel = (target: string | null | undefined) => target != null && names.has(target);
  const patterns = rules.routes.filter((route) => isChannel(route.slack_channel)).map((route) => route.repository);
  const isAlertChannel = isChannel(alertChannel);
  if (patterns.length === 0 && !isAlertChannel) return null;
  return repositories.filter((repository) => {
    // As routeAlert decides: the first matching route wins, a route without a channel (or no
    // route) falls back to SLACK_ALERT_CHANNEL.
    const route = rules.routes.find((r) => matches(r.repository, repository));
    return isChannel(route?.slack_channel ?? alertChannel);
  });
}

/** {@link channelRepositories} with the stored rules and the repositories that have builds. */
export async function findChannelRepositories(
  connection: CommonQueryMethods,
  channel: SlackChannel,
  alertChannel: string | null,
): Promise<string[] | null> {
  const rules = await getAlertRules(connection);
  return channelRepositories(rules, channel, alertChannel, await listRepositoryNames(connection));
}
