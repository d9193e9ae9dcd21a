import { createHash } from "node:crypto";
import { clone, workflowExamples } from "./webhook-examples.js";

const runTemplate = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.conclusion === "success")!;
const jobTemplate = workflowExamples().find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!;

export interface SeedRun {
  id: number;
  repository: string;
  workflow: string;
  branch: string;
  conclusion: "success" | "failure" | "cancelled" | null;
  status?: "completed" | "in_progress" | "queued";
  createdAt: Date;
  seconds: number;
  actor: string;
  message: string;
  runNumber?: number;
  attempt?: number;
}

const repositoryIds = new Map<string, number>();
function repository(fullName: string) {
  if (!repositoryIds.has(fullName)) repositoryIds.set(fullName, 5000 + repositoryIds.size);
  return { ...runTemplate.payload.repository, id: repositoryIds.get(fullName)!, full_name: fullName, name: fullName.split("/")[1], default_branch: "main" };
}

/** A `workflow_run` delivery for `run`, from a real example payload. */
export function runPayload(run: SeedRun) {
  const payload = clone(runTemplate.payload);
  const repo = repository(run.repository);
  const finished = new Date(run.createdAt.getTime() + run.seconds * 1000);
  const status = run.status ?? "completed";
  payload.action = status === "completed" ? "completed" : status === "in_progress" ? "in_progress" : "requested";
  payload.repository = repo;
  payload.workflow_run = {
    ...payload.workflow_run,
    id: run.id,
    name: run.workflow,
    workflow_id: 100 + [...run.workflow].reduce((a, ch) => a + ch.charCodeAt(0), 0),
    run_number: run.runNumber ?? run.id,
    run_attempt: run.attempt ?? 1,
    head_branch: run.branch,
    head_sha: createHash("sha1").update(String(run.id)).digest("hex"),
    head_commit: { ...payload.workflow_run.head_commit, message: run.message },
    status,
    conclusion: status === "completed" ? run.conclusion : null,
    created_at: run.createdAt.toISOString(),
    run_started_at: run.createdAt.toISOString(),
    updated_at: (status === "completed" ? finished : run.createdAt).toISOString(),
    html_url: `https://github.com/${run.repository}/actions/runs/${run.id}`,
    triggering_actor: { login: run.actor },
    repository: repo,
  };
  return payload;
}

/** A completed `workflow_job` delivery for `run`: one job, failed at a step when the run failed. */
export function jobPayload(run: SeedRun, name: string, index: number) {
  const payload = clone(jobTemplate.payload);
  payload.repository = repository(run.repository);
  const started = new Date(run.createdAt.getTime() + 5_000 + index * 2_000);
  const completed = new Date(run.createdAt.getTime() + run.seconds * 1000 - 1_000);
  const failed = run.conclusion === "failure" && index === 0;
  payload.workflow_job = {
    ...payload.workflow_job,
    id: run.id * 10 + index,
    run_id: run.id,
    run_attempt: run.attempt ?? 1,
    name,
    workflow_name: run.workflow,
    head_branch: run.branch,
    status: "completed",
    conclusion: failed ? "failure" : "success",
    created_at: run.createdAt.toISOString(),
    started_at: started.toISOString(),
    completed_at: completed.toISOString(),
    steps: payload.workflow_job.steps.map((step: Record<string, unknown>, i: number) => ({
      ...step,
      conclusion: failed && i === 7 ? "failure" : failed && i > 7 ? "skipped" : "success",
    })),
  };
  return payload;
}

/**
 * A fortnight of realistic activity across three repositories: mostly green, a few red
 * streaks, varied durations, several people; deterministic for a given `now`.
 */
export function realisticRuns(now: Date, count = 90): SeedRun[] {
  const repos = ["acme/api", "acme/web", "acme/infra"];
  const workflows = ["CI", "Deploy", "Nightly"];
  const actors = ["mona", "hubot", "octocat", "linus"];
  const messages = ["Fix flaky login test", "Bump dependencies", "Add retry to uploader", "Refactor billing module", "Speed up build cache"];
  const runs: SeedRun[] = [];
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < count; i++) {
    const createdAt = new Date(now.getTime() - (count - i) * (14 * 86_400_000) / count);
    const workflow = workflows[i % 7 === 0 ? 1 : i % 11 === 0 ? 2 : 0]!;
    const roll = random();
    runs.push({
      id: 700_000 + i,
      repository: repos[i % repos.length]!,
      workflow,
      branch: i % 4 === 0 ? `feature/${messages[i % messages.length]!.split(" ")[0]!.toLowerCase()}` : "main",
      conclusion: roll < 0.78 ? "success" : roll < 0.95 ? "failure" : "cancelled",
      createdAt,
      seconds: Math.round((workflow === "Deploy" ? 420 : workflow === "Nightly" ? 1500 : 180) * (0.7 + random() * 0.8)),
      actor: actors[i % actors.length]!,
      message: `${messages[i % messages.length]!}\n\nPart of the ${i}th change.`,
    });
  }
  return runs;
}
