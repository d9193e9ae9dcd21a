import { branchName, DEMO_ORGANIZATION, personOf, type Defect, type Person, type RepositorySpec, type WorkflowSpec } from "./demo-organization.js";
import { DEMO_RED_BRANCH } from "./demo-deliveries.js";
import { createRandom } from "./random.js";
import { runDeliveries, type DemoDelivery } from "./run-deliveries.js";
import { simulateAttempt, type DemoCommit, type PlannedRun } from "./simulate-attempt.js";

export interface LiveRuns {
  /** The deliveries of a push made at `at`: its runs queue, run and finish within a minute or two. */
  next(at: Date): DemoDelivery[];
}

/** Live runs last about this share of their usual time, so the dashboard visibly moves. */
const LIVE_TIME_SCALE = 0.08;

/**
 * Pushes that keep coming after the history: mostly to open pull requests, sometimes a merge
 * to main (followed by its deploy when CI passes), with the usual share of broken commits and
 * flaky jobs. Ids, run numbers and pull request numbers go on from where `history` ended.
 * The red branch of the history is left alone, so it stays red.
 */
export function createLiveRuns(options: { seed: number; history: Iterable<DemoDelivery> }): LiveRuns {
  const random = createRandom(options.seed, "live");
  const last = lastNumbers(options.history);
  const pulls = new Map<RepositorySpec, Array<{ number: number; title: string; branch: string; author: Person }>>();
  const weights = DEMO_ORGANIZATION.repositories.map((r) => r.pullsPerDay);
  const total = weights.reduce((a, b) => a + b, 0);

  const pickRepository = () => {
    let x = random.between(0, total);
    return DEMO_ORGANIZATION.repositories.find((_, i) => (x -= weights[i]!) < 0) ?? DEMO_ORGANIZATION.repositories[0]!;
  };

  const start = (
    repository: RepositorySpec,
    workflow: WorkflowSpec,
    push: { at: Date; commit: DemoCommit; actor: Person; defects: Set<Defect> },
    event: PlannedRun["event"],
    branch: string,
    pullRequest: PlannedRun["pullRequest"],
  ) => {
    const number = (last.runNumbers.get(workflow.id) ?? 0) + 1;
    last.runNumbers.set(workflow.id, number);
    const run: PlannedRun = {
      repository,
      workflow,
      id: (last.runId += random.int(3, 60)),
      runNumber: number,
      checkSuiteId: Math.round(last.runId * 2.5),
      event,
      branch,
      commit: push.commit,
      actor: push.actor,
      pullRequest,
      displayTitle: pullRequest?.title ?? push.commit.message.split("\n")[0]!,
      createdAt: new Date(push.at.getTime() + 1000),
      attempts: [],
    };
    const attempt = simulateAttempt(random, run, { number: 1, triggeringActor: push.actor, startAt: run.createdAt, defects: push.defects, timeScale: LIVE_TIME_SCALE });
    for (const job of attempt.jobs) job.id = last.jobId += random.int(1, 12);
    run.attempts.push(attempt);
    return { run, attempt, deliveries: runDeliveries(random.fork(`deliveries ${run.id}`), attempt) };
  };

  return {
    next(at) {
      const repository = pickRepository();
      const open = pulls.get(repository) ?? [];
      pulls.set(repository, open);
      const merging = open.length > 0 && random.chance(0.3) && `${DEMO_ORGANIZATION.login}/${repository.name}` !== DEMO_RED_BRANCH.repository;
      if (merging) {
        const pull = open.splice(random.int(0, open.length - 1), 1)[0]!;
        const merger = personOf(random.pick(repository.contributors));
        const push = {
          at,
          commit: { sha: random.hex(40), message: `${pull.title} (#${pull.number})`, author: pull.author, timestamp: at },
          actor: merger,
          defects: new Set<Defect>(random.chance(0.04) ? ["test"] : []),
        };
        const deliveries: DemoDelivery[] = [];
        for (const workflow of repository.workflows.filter((w) => w.triggers.includes("push"))) {
          const ci = start(repository, workflow, push, "push", "main", null);
          deliveries.push(...ci.deliveries);
          if (workflow.name !== "CI" || ci.attempt.conclusion !== "success") continue;
          for (const deploy of repository.workflows.filter((w) => w.triggers.includes("deploy"))) {
            deliveries.push(...start(repository, deploy, { ...push, at: ci.attempt.completedAt, defects: new Set() }, "workflow_run", "main", null).deliveries);
          }
        }
        return deliveries.sort((a, b) => a.at.getTime() - b.at.getTime());
      }
      let pull = open.length > 0 && random.chance(0.6) ? random.pick(open) : undefined;
      const opened = !pull;
      if (!pull) {
        const author = personOf(random.pick(repository.contributors));
        const title = random.pick(repository.titles);
        const number = (last.pullNumbers.get(repository.id) ?? 1000) + random.int(1, 3);
        last.pullNumbers.set(repository.id, number);
        pull = { number, title, author, branch: branchName(author, title) };
        open.push(pull);
      }
      const defects = new Set<Defect>();
      if (random.chance(0.12)) defects.add("test");
      if (random.chance(0.05)) defects.add("lint");
      const message = opened ? pull.title : random.pick(["Address review comments", "Fix failing tests", "Simplify per review"]);
      const push = { at, commit: { sha: random.hex(40), message, author: pull.author, timestamp: at }, actor: pull.author, defects };
      return repository.workflows
        .filter((w) => w.triggers.includes("pull_request"))
        .flatMap((workflow) => start(repository, workflow, push, "pull_request", pull.branch, { number: pull.number, title: pull.title }).deliveries)
        .sort((a, b) => a.at.getTime() - b.at.getTime());
    },
  };
}

/** Where the history left ids and numbers, so live runs come after it. */
function lastNumbers(history: Iterable<DemoDelivery>) {
  let runId = 10_400_000_000;
  let jobId = 28_700_000_000;
  const runNumbers = new Map<number, number>();
  const pullNumbers = new Map<number, number>();
  for (const delivery of history) {
    const payload = delivery.payload as {
      repository: { id: number };
      workflow_run?: { id: number; workflow_id: number; run_number: number; pull_requests: Array<{ number: number }> };
      workflow_job?: { id: number };
    };
    if (payload.workflow_job) jobId = Math.max(jobId, payload.workflow_job.id);
    const run = payload.workflow_run;
    if (!run) continue;
    runId = Math.max(runId, run.id);
    runNumbers.set(run.workflow_id, Math.max(runNumbers.get(run.workflow_id) ?? 0, run.run_number));
    for (const pull of run.pull_requests) pullNumbers.set(payload.repository.id, Math.max(pullNumbers.get(payload.repository.id) ?? 0, pull.number));
  }
  return { runId, jobId, runNumbers, pullNumbers };
}
