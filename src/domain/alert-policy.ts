import type { Status } from "./status.js";

/** Whether one (repository, workflow, branch) is passing or failing, and since when. */
export interface BranchState {
  state: "passing" | "failing";
  failingSince: Date | null;
  failedRuns: number;
  brokenBuildId: number | null;
  lastRunNumber: number | null;
}

export interface FinishedRun {
  buildId: number;
  status: Status;
  runNumber: number | null;
  finishedAt: Date;
}

export type AlertKind = "broken" | "still_failing" | "fixed";

export interface AlertDecision {
  next: BranchState;
  alert:
    | null
    | { kind: "broken" }
    | { kind: "still_failing"; failedRuns: number; brokenBuildId: number | null }
    | { kind: "fixed"; timeToGreenSeconds: number; failedRuns: number; brokenBuildId: number | null };
}

/**
 * The alert policy, per branch and workflow, from state changes rather than runs:
 * - the first failure after a success, or the first run seen failing: "broken";
 * - later failures of a broken branch: "still_failing" (a thread reply in Slack, no email);
 * - the first success after a failure: "fixed", with time to green and the failures between.
 * Cancelled and skipped runs say nothing about the branch. A run older than the last one
 * decided (lower run number) is ignored: its result arrived late and is no longer news.
 * The database applies this policy as it writes the run (runboard_decide_alert, in
 * migrations/0020_alerts_in_write.sql); test/domain/rules-in-sql.test.ts holds the two equal.
 * @returns null when the run changes nothing.
 */
export function decideAlert(previous: BranchState | null, run: FinishedRun): AlertDecision | null {
  if (run.status !== "success" && run.status !== "failed") {
    return null;
  }
  if (previous?.lastRunNumber != null && run.runNumber != null && run.runNumber < previous.lastRunNumber) {
    return null;
  }
  const lastRunNumber = run.runNumber ?? previous?.lastRunNumber ?? null;
  const failing = previous?.state === "failing";

  if (run.status === "failed") {
    if (!failing) {
      return {
        next: { state: "failing", failingSince: run.finishedAt, failedRuns: 1, brokenBuildId: run.buildId, lastRunNumber },
        alert: { kind: "broken" },
      };
    }
    const failedRuns = previous!.failedRuns + 1;
    return {
      next: { ...previous!, failedRuns, lastRunNumber },
      alert: { kind: "still_failing", failedRuns, brokenBuildId: previous!.brokenBuildId },
    };
  }

  const next: BranchState = { state: "passing", failingSince: null, failedRuns: 0, brokenBuildId: null, lastRunNumber };
  if (!failing) {
    return { next, alert: null };
  }
  const since = previous!.failingSince ?? run.finishedAt;
  return {
    next,
    alert: {
      kind: "fixed",
      timeToGreenSeconds: Math.max(0, Math.round((run.finishedAt.getTime() - since.getTime()) / 1000)),
      failedRuns: previous!.failedRuns,
      brokenBuildId: previous!.brokenBuildId,
    },
  };
}
