/** The status vocabulary Runboard stores and shows. */
export const STATUSES = ["queued", "running", "success", "failed", "cancelled", "skipped"] as const;
export type Status = (typeof STATUSES)[number];

const CONCLUSIONS: Record<string, Status> = {
  success: "success",
  failure: "failed",
  timed_out: "failed",
  startup_failure: "failed",
  cancelled: "cancelled",
  skipped: "skipped",
  neutral: "skipped",
  stale: "skipped",
  // A run that waits for someone to approve it has not started yet.
  action_required: "queued",
};

/**
 * Maps GitHub's `status` and `conclusion` of a run or job to the shown status.
 * The object's own fields decide, not the webhook's action: they are the snapshot.
 * A completed run with a conclusion GitHub has not documented counts as skipped, so it
 * neither alerts nor moves the success rate.
 */
export function toStatus(rawStatus: string | null | undefined, conclusion: string | null | undefined): Status {
  if (rawStatus === "completed" || (rawStatus == null && conclusion)) {
    return (conclusion && CONCLUSIONS[conclusion]) || "skipped";
  }
  if (rawStatus === "in_progress") {
    return "running";
  }
  // requested, queued, waiting, pending, action_required, and anything new.
  return "queued";
}

/** Orders states within one attempt: queued 1, running 2, finished 3. */
export function statusRank(status: Status): number {
  if (status === "queued") return 1;
  if (status === "running") return 2;
  return 3;
}

/**
 * Whether a run or job has finished: it will not change again within this attempt. The
 * check-run part of runboard_write_batch lists the same statuses in SQL (held equal by
 * test/domain/rules-in-sql.test.ts).
 */
export function isFinished(status: Status): boolean {
  return statusRank(status) === 3;
}

/** The finished statuses (see {@link isFinished}). */
export const FINISHED_STATUSES: readonly Status[] = STATUSES.filter(isFinished);

/**
 * The statuses a run leaves: the builds in them are kept in unfinished_builds, whose triggers
 * (migrations/0030) list them in SQL (held equal by test/domain/rules-in-sql.test.ts).
 */
export const UNFINISHED_STATUSES: readonly Status[] = STATUSES.filter((status) => !isFinished(status));
