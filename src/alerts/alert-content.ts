import type { BuildDetail } from "../db/builds.js";
import type { AlertKindName } from "../db/alerts.js";
import { formatDuration, httpUrl } from "../domain/format.js";

/** Everything an alert says, whatever the medium. */
export interface AlertContent {
  kind: AlertKindName;
  build: BuildDetail | null;
  failedJobs: Array<{ name: string; failedStep: string | null; url: string | null }>;
  timeToGreenSeconds: number | null;
  failedRuns: number | null;
  dashboardUrl: string;
  githubUrl: string | null;
}

/** Collects an alert's content from the build as it is now (jobs that arrived late included). */
export function alertContent(
  kind: AlertKindName,
  build: BuildDetail | null,
  details: Record<string, unknown>,
  baseUrl: string,
): AlertContent {
  return {
    kind,
    build,
    failedJobs: (build?.jobs ?? [])
      .filter((job) => job.status === "failed")
      .map((job) => ({ name: job.name, failedStep: job.failed_step, url: httpUrl(job.url) })),
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
