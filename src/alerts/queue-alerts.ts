import type { CommonQueryMethods } from "slonik";
import { getAlertRules } from "../db/alert-settings.js";
import { findBrokenSlackAlert, insertAlert, type AlertChannel } from "../db/alerts.js";
import type { ChangedBuild } from "../db/builds.js";
import { branchKeyText, saveBranchStates, type BranchKey, type LockedBranchStates } from "../db/branch-states.js";
import { decideAlert, type AlertDecision, type BranchState } from "../domain/alert-policy.js";
import { routeAlert, type AlertRules } from "../domain/alert-rules.js";

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

/** A finished run that really changed, with its repository's default branch (for routes). */
export interface FinishedBuild {
  build: ChangedBuild;
  defaultBranch: string | null;
  /** Imported history: it moves the branch's state, silently. */
  history?: boolean;
}

/**
 * Runs the alert policy for builds whose state really changed, inside the ingest transaction:
 * 1. skip what says nothing about a branch (unfinished, cancelled, skipped, no branch),
 * 2. take the branches' states, which the write function locked and read (`locked`), decide
 *    each run in turn (two runs of one branch in the same batch see each other's decision), save
 *    the new states in one statement (kept for every branch: it is also the dashboard's "broken now"),
 * 3. for a branch and workflow the rules watch, write one outbox row per channel (skipped,
 *    with the reason, when a channel is off or muted); history says nothing, so a branch red
 *    at import shows as broken without an alert, and the next live result alerts as usual.
 */
export async function queueAlerts(
  tx: CommonQueryMethods,
  builds: FinishedBuild[],
  locked: LockedBranchStates,
  context: AlertingContext,
): Promise<void> {
  const decidable = builds.filter(
    ({ build }) => build.finished_at && build.branch && (build.status === "success" || build.status === "failed"),
  );
  if (decidable.length === 0) {
    return;
  }
  const keyOf = (build: ChangedBuild): BranchKey => ({
    repositoryId: build.repository_id,
    workflowKey: build.workflow_id != null ? String(build.workflow_id) : `name:${build.workflow}`,
    branch: build.branch!,
  });
  const states = new Map(locked);
  const next = new Map<string, { key: BranchKey; state: BranchState; lastBuildId: number }>();
  let rules: AlertRules | undefined;
  for (const { build, defaultBranch, history } of decidable) {
    const key = keyOf(build);
    const keyText = branchKeyText(key);
    // The write function locks what this function decides; a branch it did not lock is a bug, not a race to lose.
    if (!states.has(keyText)) throw new Error(`branch ${keyText.replaceAll("\u0001", " ")} was not locked by the write`);
    const decision = decideAlert(states.get(keyText) ?? null, {
      buildId: build.id,
      status: build.status,
      runNumber: build.run_number,
      finishedAt: build.finished_at!,
    });
    if (!decision) {
      continue;
    }
    states.set(keyText, decision.next);
    next.set(keyText, { key, state: decision.next, lastBuildId: build.id });
    if (decision.alert && !history) {
      // Read once per batch, and only when some run has something to say.
      rules ??= await getAlertRules(tx);
      await queueAlert(tx, build, decision.alert, rules, defaultBranch, context);
    }
  }
  await saveBranchStates(tx, [...next.values()]);
}

/** Routes one alert and writes its outbox rows. */
async function queueAlert(
  tx: CommonQueryMethods,
  build: ChangedBuild,
  alert: NonNullable<AlertDecision["alert"]>,
  rules: AlertRules,
  defaultBranch: string | null,
  context: AlertingContext,
): Promise<void> {
  const now = context.now();
  const route = routeAlert(
    rules,
    { repository: build.repository, workflow: build.workflow, branch: build.branch!, defaultBranch },
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
