import type { Defect, JobSpec, Person, RepositorySpec, RunnerKind, WorkflowSpec } from "./demo-organization.js";
import type { Random } from "./random.js";

export interface DemoCommit {
  sha: string;
  message: string;
  author: Person;
  timestamp: Date;
}

/** One workflow run, with every attempt made of it. Ids are 0 until assigned. */
export interface PlannedRun {
  repository: RepositorySpec;
  workflow: WorkflowSpec;
  id: number;
  runNumber: number;
  checkSuiteId: number;
  event: "push" | "pull_request" | "schedule" | "workflow_run";
  branch: string;
  commit: DemoCommit;
  actor: Person;
  pullRequest: { number: number; title: string } | null;
  displayTitle: string;
  createdAt: Date;
  attempts: PlannedAttempt[];
}

export type JobConclusion = "success" | "failure" | "cancelled" | "skipped";

export interface PlannedStep {
  number: number;
  name: string;
  startedAt: Date;
  completedAt: Date;
  conclusion: JobConclusion;
}

export interface PlannedRunner {
  id: number;
  name: string;
  groupId: number;
  groupName: string;
}

export interface PlannedJob {
  id: number;
  spec: JobSpec;
  queuedAt: Date;
  /** Approved by a reviewer at this time (jobs whose environment asks for it). */
  approvedAt: Date | null;
  /** null: it never ran (skipped, or cancelled while queued). */
  startedAt: Date | null;
  completedAt: Date;
  conclusion: JobConclusion;
  runner: PlannedRunner | null;
  steps: PlannedStep[];
}

export interface PlannedAttempt {
  run: PlannedRun;
  number: number;
  triggeringActor: Person;
  startedAt: Date;
  completedAt: Date;
  conclusion: "success" | "failure" | "cancelled";
  jobs: PlannedJob[];
}

export interface AttemptOptions {
  number: number;
  triggeringActor: Person;
  startAt: Date;
  defects: ReadonlySet<Defect>;
  /** Shrinks every duration and queue time: live runs finish in under a minute. */
  timeScale?: number;
}

const SECOND = 1000;

/**
 * Plays one attempt of a run: jobs stage by stage, each waiting for a runner of its kind, its
 * steps one after the other; a step fails when the commit has a defect the job catches, or
 * now and then for a flaky job; a failed stage skips the stages after it. Pure given `random`.
 */
export function simulateAttempt(random: Random, run: PlannedRun, options: AttemptOptions): PlannedAttempt {
  const scale = options.timeScale ?? 1;
  const seconds = (value: number) => Math.max(0, Math.round(value * scale)) * SECOND;
  const jobs: PlannedJob[] = [];
  const stages = [...new Set(run.workflow.jobs.map((job) => job.stage ?? 0))].sort((a, b) => a - b);
  let stageStart = new Date(options.startAt.getTime() + seconds(random.between(1, 3)));
  let failedBefore = false;
  for (const stage of stages) {
    let stageEnd = stageStart.getTime();
    for (const spec of run.workflow.jobs.filter((job) => (job.stage ?? 0) === stage)) {
      const job = failedBefore ? skippedJob(spec, stageStart) : playJob(random, spec, stageStart, options.defects, seconds);
      jobs.push(job);
      stageEnd = Math.max(stageEnd, job.completedAt.getTime());
    }
    failedBefore ||= jobs.some((job) => job.conclusion === "failure");
    stageStart = new Date(stageEnd + seconds(random.between(1, 3)));
  }
  const lastJob = Math.max(...jobs.map((job) => job.completedAt.getTime()));
  return {
    run,
    number: options.number,
    triggeringActor: options.triggeringActor,
    startedAt: options.startAt,
    completedAt: new Date(lastJob + seconds(random.between(1, 4))),
    conclusion: jobs.some((job) => job.conclusion === "failure") ? "failure" : "success",
    jobs,
  };
}

/**
 * The attempt as it ends when cancelled at `at` (a newer push to the branch): jobs still
 * running stop at their current step, jobs still queued never start, and jobs of stages not
 * yet reached never exist.
 */
export function cancelAttempt(attempt: PlannedAttempt, at: Date): PlannedAttempt {
  if (at >= attempt.completedAt) return attempt;
  const stopAt = new Date(at.getTime() + 2 * SECOND);
  const jobs = attempt.jobs.flatMap((job): PlannedJob[] => {
    if (job.completedAt <= at) return [job];
    if (job.queuedAt > at) return [];
    if (!job.startedAt || job.startedAt > at) {
      return [{ ...job, startedAt: null, completedAt: stopAt, conclusion: "cancelled", runner: null, steps: [] }];
    }
    const steps = job.steps.map((step): PlannedStep => {
      if (step.completedAt <= at) return step;
      if (isPostStep(step.name)) return { ...step, startedAt: stopAt, completedAt: stopAt, conclusion: "success" };
      if (step.startedAt <= at) return { ...step, completedAt: stopAt, conclusion: "cancelled" };
      return { ...step, startedAt: stopAt, completedAt: stopAt, conclusion: "skipped" };
    });
    return [{ ...job, completedAt: stopAt, conclusion: "cancelled", steps }];
  });
  return { ...attempt, jobs, completedAt: new Date(stopAt.getTime() + SECOND), conclusion: "cancelled" };
}

function isPostStep(name: string): boolean {
  return name.startsWith("Post ") || name === "Complete job";
}

function skippedJob(spec: JobSpec, at: Date): PlannedJob {
  return { id: 0, spec, queuedAt: at, approvedAt: null, startedAt: null, completedAt: at, conclusion: "skipped", runner: null, steps: [] };
}

function playJob(random: Random, spec: JobSpec, queuedAt: Date, defects: ReadonlySet<Defect>, seconds: (s: number) => number): PlannedJob {
  const approvedAt = spec.approval ? new Date(queuedAt.getTime() + seconds(random.around(9 * 60, 0.8))) : null;
  const startedAt = new Date((approvedAt ?? queuedAt).getTime() + seconds(queueSeconds(random, spec.runner)));
  const failing = failingStep(random, spec, defects);
  const names: Array<readonly [string, number]> = [
    ["Set up job", 2],
    ["Run actions/checkout@v4", 2],
    ...spec.steps,
    ["Post Run actions/checkout@v4", 1],
    ["Complete job", 0.5],
  ];
  const steps: PlannedStep[] = [];
  let at = startedAt.getTime();
  let failed = false;
  names.forEach(([name, usual], index) => {
    const post = isPostStep(name);
    let conclusion: JobConclusion = "success";
    let duration = seconds(random.around(usual * (/install|npm ci/.test(name) && random.chance(0.1) ? 2.5 : 1), 0.25));
    if (failed && !post) {
      conclusion = "skipped";
      duration = 0;
    } else if (name === failing) {
      conclusion = "failure";
      // A failing test run stops early about as often as it runs to the end.
      duration = Math.round(duration * random.between(0.4, 1));
      failed = true;
    }
    steps.push({ number: index + 1, name, startedAt: new Date(at), completedAt: new Date(at + duration), conclusion });
    at += duration;
  });
  return {
    id: 0,
    spec,
    queuedAt,
    approvedAt,
    startedAt,
    completedAt: new Date(at),
    conclusion: failed ? "failure" : "success",
    runner: runnerFor(random, spec.runner),
    steps,
  };
}

/** The step that fails: one a defect of the commit breaks, else the flaky one now and then. */
function failingStep(random: Random, spec: JobSpec, defects: ReadonlySet<Defect>): string | null {
  const broken = Object.entries(spec.catches ?? {}).filter(([defect]) => defects.has(defect as Defect));
  if (broken.length > 0) {
    const order = spec.steps.map(([name]) => name);
    return broken.map(([, step]) => step!).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0]!;
  }
  return spec.flaky && random.chance(spec.flaky.chance) ? spec.flaky.step : null;
}

/** Hosted runners come in seconds (minutes at a busy hour); macOS and the one hardware rig take longer. */
function queueSeconds(random: Random, runner: RunnerKind): number {
  switch (runner) {
    case "ubuntu":
      return random.chance(0.04) ? random.around(90, 0.5) : random.around(6, 0.6);
    case "ubuntu-large":
      return random.around(25, 0.6);
    case "macos":
      return random.around(75, 0.8);
    case "hil":
      return random.around(240, 0.9);
    case "infra":
      return random.around(5, 0.5);
  }
}

function runnerFor(random: Random, kind: RunnerKind): PlannedRunner {
  switch (kind) {
    case "ubuntu":
    case "macos": {
      const id = random.int(1, 400);
      return { id, name: `GitHub Actions ${id}`, groupId: 2, groupName: "GitHub Actions" };
    }
    case "ubuntu-large":
      return { id: random.int(401, 900), name: `ubuntu-8-core_${random.hex(8)}`, groupId: 3, groupName: "Default Larger Runners" };
    case "hil":
    {
      const n = random.int(1, 2);
      return { id: 1000 + n, name: `hil-rig-0${n}`, groupId: 4, groupName: "Hardware lab" };
    }
    case "infra": {
      const n = random.int(1, 3);
      return { id: 1010 + n, name: `infra-runner-0${n}`, groupId: 5, groupName: "Infrastructure" };
    }
  }
}
