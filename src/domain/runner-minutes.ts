import { matches } from "./alert-rules.js";

/** A larger runner's label (`*` allowed) and its per-minute multiplier, from RUNNER_MULTIPLIERS. */
export interface RunnerMultiplier {
  pattern: string;
  multiplier: number;
}

/** What kind of runner a job ran on, as its labels say. */
export type RunnerKind = "linux" | "windows" | "macos" | "larger" | "self-hosted" | "other";

/** GitHub's per-minute multipliers of its standard hosted runners, Linux being 1. */
export const STANDARD_MULTIPLIERS = { linux: 1, windows: 2, macos: 10 } as const;

/**
 * The runner kind and multiplier of a job's labels. A label matching RUNNER_MULTIPLIERS names a
 * larger runner (billed in every repository); `self-hosted` counts apart at 0; then the standard
 * images by name (`ubuntu-*`, `windows-*`, `macos-*`). A job that ran in a runner group other
 * than GitHub's own ("GitHub Actions") on labels that name none of these ran on a self-hosted
 * runner (`runs-on: [gpu]`). Anything else counts as Linux, at 1, under "other".
 */
export function classifyRunner(
  labels: readonly string[],
  larger: readonly RunnerMultiplier[],
  runnerGroup: string | null = null,
): { kind: RunnerKind; multiplier: number } {
  const lower = labels.map((label) => label.toLowerCase());
  for (const setting of larger) {
    if (labels.some((label) => matches(setting.pattern, label))) return { kind: "larger", multiplier: setting.multiplier };
  }
  if (lower.includes("self-hosted")) return { kind: "self-hosted", multiplier: 0 };
  if (lower.some((label) => label.startsWith("macos"))) return { kind: "macos", multiplier: STANDARD_MULTIPLIERS.macos };
  if (lower.some((label) => label.startsWith("windows"))) return { kind: "windows", multiplier: STANDARD_MULTIPLIERS.windows };
  if (lower.some((label) => label.startsWith("ubuntu") || label === "linux")) return { kind: "linux", multiplier: STANDARD_MULTIPLIERS.linux };
  if (runnerGroup && runnerGroup !== GITHUB_HOSTED_GROUP) return { kind: "self-hosted", multiplier: 0 };
  return { kind: "other", multiplier: STANDARD_MULTIPLIERS.linux };
}

/** The runner group GitHub's standard hosted runners run in. */
export const GITHUB_HOSTED_GROUP = "GitHub Actions";

/**
 * A job's billable minutes before the multiplier: its duration rounded up to the whole minute,
 * as GitHub bills each job. The usage query sums the same rounding in SQL (`ceil(run_seconds / 60)`,
 * held equal by test/db/job-metrics.test.ts).
 */
export function roundedMinutes(seconds: number): number {
  return seconds <= 0 ? 0 : Math.ceil(seconds / 60);
}

/** Jobs of one repository, workflow and month that ran on one label set, as the database sums them. */
export interface UsageGroup {
  repository: string;
  workflow: string;
  /** YYYY-MM (UTC) of the jobs' start. */
  month: string;
  labels: string[];
  runner_group: string | null;
  /** false only when the stored run says the repository is public. */
  private: boolean;
  jobs: number;
  /** Sum of each job's rounded minutes. */
  minutes: number;
}

export interface UsageEstimate {
  repository: string;
  workflow: string;
  month: string;
  jobs: number;
  /** Rounded minutes on every runner, before multipliers. */
  minutes: number;
  /** Rounded minutes × multiplier, of runs GitHub bills: the estimate. */
  estimated_minutes: number;
  /** Minutes on self-hosted runners (not billed by GitHub, counted apart). */
  self_hosted_minutes: number;
  /** Minutes on standard GitHub-hosted runners in public repositories (free). */
  free_minutes: number;
  by_kind: Partial<Record<RunnerKind, number>>;
}

/**
 * Estimated minutes per repository, workflow and month: each job's rounded minutes times its
 * runner's multiplier. Standard GitHub-hosted runners in public repositories are free; larger
 * runners are not. An estimate: GitHub's bill also knows included minutes, storage and rates.
 */
export function estimateUsage(groups: readonly UsageGroup[], larger: readonly RunnerMultiplier[]): UsageEstimate[] {
  const out = new Map<string, UsageEstimate>();
  for (const group of groups) {
    const key = `${group.repository}\u0001${group.workflow}\u0001${group.month}`;
    let row = out.get(key);
    if (!row) {
      row = {
        repository: group.repository,
        workflow: group.workflow,
        month: group.month,
        jobs: 0,
        minutes: 0,
        estimated_minutes: 0,
        self_hosted_minutes: 0,
        free_minutes: 0,
        by_kind: {},
      };
      out.set(key, row);
    }
    const { kind, multiplier } = classifyRunner(group.labels, larger, group.runner_group);
    row.jobs += group.jobs;
    row.minutes += group.minutes;
    if (kind === "self-hosted") row.self_hosted_minutes += group.minutes;
    else if (!group.private && kind !== "larger") row.free_minutes += group.minutes;
    else {
      row.estimated_minutes += group.minutes * multiplier;
      row.by_kind[kind] = (row.by_kind[kind] ?? 0) + group.minutes * multiplier;
    }
  }
  return [...out.values()].sort(
    (a, b) => (a.month < b.month ? 1 : a.month > b.month ? -1 : 0) || b.estimated_minutes - a.estimated_minutes || a.repository.localeCompare(b.repository) || a.workflow.localeCompare(b.workflow),
  );
}

/** Sum of estimates (for a total line, a digest, `/builds stats`). */
export function totalUsage(rows: readonly UsageEstimate[]): { jobs: number; minutes: number; estimated_minutes: number; self_hosted_minutes: number; free_minutes: number } {
  const total = { jobs: 0, minutes: 0, estimated_minutes: 0, self_hosted_minutes: 0, free_minutes: 0 };
  for (const row of rows) {
    total.jobs += row.jobs;
    total.minutes += row.minutes;
    total.estimated_minutes += row.estimated_minutes;
    total.self_hosted_minutes += row.self_hosted_minutes;
    total.free_minutes += row.free_minutes;
  }
  return total;
}
