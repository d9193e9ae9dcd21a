import type { Annotation } from "./failure-signature.js";

/** Other runs that failed with the same signature before this one. */
export interface SeenBefore {
  others: number;
  firstAt: Date;
  firstBuildId: number | null;
  firstRunNumber: number | null;
  branches: string[];
}

/** What Runboard knows of why a job failed. */
export interface FailureInsight {
  /** pending: not read yet (or being read); read: done, with or without an excerpt. */
  status: "pending" | "read";
  /** The failed step's last lines, up to its first error line (redacted). */
  lines: string[];
  annotations: Annotation[];
  /** Why there is no excerpt (the log was gone), when there is none. */
  missingReason: string | null;
  /** The most specific error line, the one the signature is made of. */
  errorLine: string | null;
  seenBefore: SeenBefore | null;
  /** Commits on which a job with this signature failed and passed, in the last 7 days. */
  flakyCommits: number;
}

/** Fewer commits than this that failed and passed say nothing about flakiness. */
export const FLAKY_SIGN_COMMITS = 2;

const DAY_MS = 86_400_000;
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "today", "yesterday", "Tuesday" (within a week), else "2 Dec" (UTC). */
function sinceWhen(at: Date, now: Date): string {
  const days = Math.floor(now.getTime() / DAY_MS) - Math.floor(at.getTime() / DAY_MS);
  if (days <= 0) return "today";
  if (days === 1) return "yesterday";
  if (days < 7) return WEEKDAYS[at.getUTCDay()]!;
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]}`;
}

/**
 * "same error as 4 other runs on main since Tuesday (first: #1234)", or null when the error
 * was not seen before. Branch names are the caller's to escape.
 */
export function describeSeenBefore(seen: SeenBefore | null, now: Date): string | null {
  if (!seen || seen.others < 1) return null;
  const runs = seen.others === 1 ? "1 other run" : `${seen.others} other runs`;
  const where = seen.branches.length === 1 ? ` on ${seen.branches[0]}` : seen.branches.length > 1 ? ` on ${seen.branches.length} branches` : "";
  const first = seen.firstRunNumber != null ? ` (first: #${seen.firstRunNumber})` : "";
  return `same error as ${runs}${where} since ${sinceWhen(seen.firstAt, now)}${first}`;
}

/** "likely flaky: failed and passed on the same commit 3 times this week", or null. */
export function describeFlaky(insight: Pick<FailureInsight, "flakyCommits">): string | null {
  return insight.flakyCommits >= FLAKY_SIGN_COMMITS
    ? `likely flaky: failed and passed on the same commit ${insight.flakyCommits} times this week`
    : null;
}

/**
 * The web address of a file at a line in a commit, from any GitHub web address of the
 * repository (a run's or a job's, `https://host/owner/repo/actions/...`); null without one.
 */
export function fileUrl(repositoryWebUrl: string | null, sha: string | null, path: string, line: number | null): string | null {
  const base = /^(https?:\/\/[^/\s]+\/[^/\s]+\/[^/\s]+)\/actions\//i.exec(repositoryWebUrl ?? "")?.[1];
  if (!base || !sha || !/^[0-9a-f]{7,64}$/i.test(sha)) return null;
  const encoded = path.split("/").filter((part) => part && part !== "." && part !== "..").map(encodeURIComponent).join("/");
  return encoded ? `${base}/blob/${sha}/${encoded}${line != null && line > 0 ? `#L${line}` : ""}` : null;
}

/** `path:line` for an annotation, or its path alone. */
export function annotationPlace(annotation: Pick<Annotation, "path" | "line">): string {
  return annotation.path ? `${annotation.path}${annotation.line != null ? `:${annotation.line}` : ""}` : "";
}
