import type { CommonQueryMethods } from "slonik";
import { getAlertRules } from "../db/alert-settings.js";
import { findBrokenSlackAlert, insertAlert, type AlertChannel } from "../db/alerts.js";
import type { ChangedBuild } from "../db/builds.js";
import { lockBranchState, saveBranchState } from "../db/branch-states.js";
import { decideAlert } from "../domain/alert-policy.js";
import { routeAlert } from "../domain/alert-rules.js";

/** What the alert decision needs beyond the database: the environment's channels and the clock. */
export interface AlertingContext {
  /** ALERT_EMAIL_TO, when email (SMTP_URL) is configured; null when it is not. */
  email: { to: string[] } | null;
  /** SLACK_ALERT_CHANNEL (may be null: routes can name channels), when SLACK_BOT_TOKEN is set; null otherwise. */
  slack: { channel: string | null } | null;
  now: () => Date;
  /** Sending waits this long so that the run's last job events can arrive first. */
  sendDelayMs: number;
}

/**
 * Runs the alert policy for a build whose state really changed, inside the ingest transaction:
 * 1. skip what says nothing about a branch (unfinished, cancelled, skipped, no branch),
 * 2. lock and read the branch's state, decide, save the new state (kept for every branch: it
 *    is also the dashboard's "broken now"),
 * 3. for a branch and workflow the rules watch, write one outbox row per channel (skipped,
 *    with the reason, when a channel is off or muted).
 */
export async function queueAlerts(
  tx: CommonQueryMethods,
  build: ChangedBuild,
  defaultBranch: string | null,
  context: AlertingContext,
): Promise<void> {
  if (!build.finished_at || !build.branch || (build.status !== "success" && build.status !== "failed")) {
    return;
  }
  const key = {
    repositoryId: build.repository_id,
    workflowKey: build.workflow_id != null ? String(build.workflow_id) : `name:${build.workflow}`,
    branch: build.branch,
  };
  const previous = await lockBranchState(tx, key);
  const decision = decideAlert(previous, {
    buildId: build.id,
    status: build.status,
    runNumber: build.run_number,
    finishedAt: build.finished_at,
  });
  if (!decision) {
    return;
  }
  await saveBranchState(tx, key, decision.next, build.id);
  const alert = decision.alert;
  if (!alert) {
    return;
  }

  const now = context.now();
  const route = routeAlert(
    await getAlertRules(tx),
    { repository: build.repository, workflow: build.workflow, branch: build.branch, defaultBranch },
    { email: context.email?.to ?? [], slackChannel: context.slack?.channel ?? null },
    now,
  );
  if (!route.watched) {
    return;
  }
  const details = { ...alert, mutedUntil: route.mutedUntil?.toISOString() ?? null };
  const parentAlertId =
    alert.kind !== "broken" && alert.brokenBuildId != null ? await findBrokenSlackAlert(tx, alert.brokenBuildId) : null;
  const channels: AlertChannel[] = alert.kind === "still_failing" ? ["slack"] : ["email", "slack"];
  for (const channel of channels) {
    const target = channel === "email" ? route.email : route.slackChannel ? [route.slackChannel] : [];
    const off =
      channel === "email"
        ? !context.email
          ? "email not configured (SMTP_URL)"
          : target.length === 0
            ? "no email recipients (ALERT_EMAIL_TO or a route)"
            : null
        : !context.slack
          ? "slack not configured (SLACK_BOT_TOKEN)"
          : target.length === 0
            ? "no slack channel (SLACK_ALERT_CHANNEL or a route)"
            : null;
    const muted = route.mutedUntil ? `muted until ${route.mutedUntil.toISOString()}` : null;
    await insertAlert(tx, {
      buildId: build.id,
      runAttempt: build.run_attempt,
      kind: alert.kind,
      channel,
      target,
      status: off || muted ? "skipped" : "pending",
      lastError: off ?? muted,
      details,
      parentAlertId: channel === "slack" ? parentAlertId : null,
      nextAttemptAt: new Date(now.getTime() + context.sendDelayMs),
    });
  }
}
