import type { BuildDetail } from "../db/builds.js";
import type { AlertKindName } from "../db/alerts.js";
import { describeFlaky, describeSeenBefore, fileUrl, type FailureInsight } from "../domain/failure-insight.js";
import type { Annotation } from "../domain/failure-signature.js";
import { formatDuration, httpUrl } from "../domain/format.js";

/** What an alert says of one failed job. */
export interface FailedJobContent {
  name: string;
  failedStep: string | null;
  url: string | null;
  /** The failed step's last lines up to its error (empty when not read, or there was no log). */
  lines: string[];
  /** Annotations, each with a link to its file at the commit when it names one. */
  annotations: Array<Annotation & { url: string | null }>;
  /** Why there is no excerpt, when it was read without one. */
  missingReason: string | null;
  /** "same error as 4 other runs on main since Tuesday (first: #1234)" */
  seenBefore: string | null;
  /** "likely flaky: ..." */
  flaky: string | null;
}

/** Everything an alert says, whatever the medium. */
export interface AlertContent {
  kind: AlertKindName;
  build: BuildDetail | null;
  failedJobs: FailedJobContent[];
  timeToGreenSeconds: number | null;
  failedRuns: number | null;
  dashboardUrl: string;
  githubUrl: string | null;
}

/**
 * Collects an alert's content from the build as it is now (jobs that arrived late included),
 * with what was read of each failed job's failure (`insights`, by job id) as of `now`.
 */
export function alertContent(
  kind: AlertKindName,
  build: BuildDetail | null,
  details: Record<string, unknown>,
  baseUrl: string,
  insights: Map<number, FailureInsight> = new Map(),
  now: Date = new Date(),
): AlertContent {
  return {
    kind,
    build,
    failedJobs: (build?.jobs ?? [])
      .filter((job) => job.status === "failed")
      .map((job) => {
        const insight = insights.get(job.id) ?? null;
        return {
          name: job.name,
          failedStep: job.failed_step,
          url: httpUrl(job.url),
          lines: insight?.lines ?? [],
          annotations: (insight?.annotations ?? []).map((a) => ({
            ...a,
            url: a.path ? fileUrl(build?.url ?? job.url, build?.commit_sha ?? null, a.path, a.line) : null,
          })),
          missingReason: insight?.missingReason ?? null,
          seenBefore: insight ? describeSeenBefore(insight.seenBefore, now) : null,
          flaky: insight ? describeFlaky(insight) : null,
        };
      }),
    timeToGreenSeconds: typeof details.timeToGreenSeconds === "number" ? details.timeToGreenSeconds : null,
    failedRuns: typeof details.failedRuns === "number" ? details.failedRuns : null,
    dashboardUrl: build ? `${baseUrl}/builds/${build.id}` : baseUrl,
    githubUrl: httpUrl(build?.url ?? null),
  };
}

/** One-line headline, plain text (escape it for the medium it goes into). */
export function headline(content: AlertContent): string {
  const b = content.build;
  if (!b) return "Runboard test alert: this channel works";
  const where = `${b.repository} · ${b.workflow} on ${b.branch ?? "?"}`;
  switch (content.kind) {
    case "broken":
      return `CI broken: ${where}`;
    case "still_failing":
      return `Still failing: ${where}${content.failedRuns ? ` (${content.failedRuns} failed runs)` : ""}`;
    case "fixed":
      return `CI fixed: ${where}, green after ${formatDuration(content.timeToGreenSeconds)}`;
    default:
      return `Runboard test alert: ${where}`;
  }
}
