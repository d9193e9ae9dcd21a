import { branchName, DEMO_ORGANIZATION, personOf, type Defect, type Person, type RepositorySpec, type WorkflowSpec } from "./demo-organization.js";
import { createRandom, type Random } from "./random.js";
import { runDeliveries, type DemoDelivery } from "./run-deliveries.js";
import { cancelAttempt, simulateAttempt, type DemoCommit, type PlannedAttempt, type PlannedRun } from "./simulate-attempt.js";

/** The branch the history leaves red: a merge broke its integration tests a few hours ago. */
export const DEMO_RED_BRANCH = { repository: `${DEMO_ORGANIZATION.login}/fleet-api`, workflow: "CI", branch: "main" } as const;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The webhook deliveries of the example organization between `from` and `to`, oldest first:
 * pull requests pushed to (some broken, fixed by the next push; some superseded, cancelling the
 * run still going), merged to main, deployed after CI passes, nightly and weekly runs, flaky
 * jobs re-run, and fleet-api's main red since a merge about three hours before `to`
 * ({@link DEMO_RED_BRANCH}). Only runs that start and finish inside the range are included.
 * The same seed and range always give the same deliveries.
 */
export function* demoDeliveries(options: { seed: number; from: Date; to: Date }): Generator<DemoDelivery> {
  const from = options.from.getTime();
  const to = options.to.getTime();
  const random = createRandom(options.seed, "history");
  const runs = DEMO_ORGANIZATION.repositories.flatMap((repository) => repositoryHistory(random.fork(repository.name), repository, { from, to }));

  for (const run of runs) {
    const inside = run.attempts.filter((a) => a.startedAt.getTime() >= from && a.completedAt.getTime() < to);
    run.attempts = inside[0]?.number === 1 ? inside : [];
  }
  const kept = runs.filter((run) => run.attempts.length > 0).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  assignIds(random.fork("ids"), kept, options.seed);

  const deliveries = kept.flatMap((run) => run.attempts.flatMap((attempt) => runDeliveries(random.fork(`deliveries ${run.id} ${attempt.number}`), attempt)));
  // Stable: deliveries of one run at the same second keep the order GitHub sends them in.
  deliveries.sort((a, b) => a.at.getTime() - b.at.getTime());
  yield* deliveries;
}

/** GitHub's ids grow with time: runs by creation, jobs by when they were queued. */
function assignIds(random: Random, runs: PlannedRun[], seed: number) {
  let runId = 10_400_000_000 + (seed % 1000) * 1_000_000;
  let checkSuiteId = 26_100_000_000 + (seed % 1000) * 1_000_000;
  const runNumbers = new Map<number, number>();
  for (const run of runs) {
    runId += random.int(3, 60);
    checkSuiteId += random.int(5, 90);
    const number = (runNumbers.get(run.workflow.id) ?? firstRunNumber(seed, run.workflow)) + 1;
    runNumbers.set(run.workflow.id, number);
    Object.assign(run, { id: runId, checkSuiteId, runNumber: number });
  }
  let jobId = 28_700_000_000 + (seed % 1000) * 1_000_000;
  const jobs = runs.flatMap((run) => run.attempts.flatMap((attempt) => attempt.jobs));
  jobs.sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime());
  for (const job of jobs) {
    jobId += random.int(1, 12);
    job.id = jobId;
  }
}

/** Where a workflow's run numbers stand before the range: a project that has been going a while. */
function firstRunNumber(seed: number, workflow: WorkflowSpec): number {
  return createRandom(seed, "run-number", String(workflow.id)).int(300, 2500);
}

interface Push {
  at: number;
  commit: DemoCommit;
  /** Who pushed (or merged). */
  actor: Person;
  defects: Set<Defect>;
  pullRequest: { number: number; title: string } | null;
}

interface Pull {
  number: number;
  title: string;
  branch: string;
  author: Person;
  start: number;
}

const FOLLOW_UPS = ["Address review comments", "Simplify per review", "Add tests", "Rename per review", "Handle the empty state", "Update docs"];
const FIXES: Record<Defect, readonly string[]> = {
  test: ["Fix failing tests", "Update snapshots", "Fix flaky assertion in test"],
  lint: ["Fix lint", "Remove unused import"],
  format: ["Run formatter", "Fix formatting"],
  build: ["Fix type errors", "Fix build"],
  integration: ["Fix integration test setup"],
};

/** Everything that ran in one repository: pull requests, then main, then the schedules. */
function repositoryHistory(random: Random, repository: RepositorySpec, range: { from: number; to: number }): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const firstDay = Math.floor(range.from / DAY) * DAY - 2 * DAY;
  const pulls = openPulls(random.fork("pulls"), repository, firstDay, range.to);
  const isRed = `${DEMO_ORGANIZATION.login}/${repository.name}` === DEMO_RED_BRANCH.repository;
  const redSince = range.to - 3 * HOUR - 20 * MINUTE + random.int(0, 10) * MINUTE;

  const mainPushes: Push[] = [];
  for (const pull of pulls) {
    const merged = pullRequestRuns(random.fork(`pull ${pull.number}`), repository, pull, runs);
    if (merged === null) continue;
    const merger = random.chance(0.6) ? reviewerOf(random, repository, pull.author) : pull.author;
    mainPushes.push({
      at: merged,
      commit: commit(random, `${pull.title} (#${pull.number})`, pull.author, merged),
      actor: merger.bot ? reviewerOf(random, repository, merger) : merger,
      defects: mainDefects(random),
      pullRequest: null,
    });
  }
  if (isRed) {
    const next = (pulls.at(-1)?.number ?? 1000) + 1;
    const dev = personOf("devpatel");
    mainPushes.push(
      { at: redSince, commit: commit(random, `Move connection pooling to pgxpool (#${next})`, dev, redSince), actor: personOf("thartmann"), defects: new Set(), pullRequest: null },
      {
        at: range.to - 65 * MINUTE,
        commit: commit(random, `Raise pool acquire timeout in integration tests (#${next + 1})`, dev, range.to - 65 * MINUTE),
        actor: dev,
        defects: new Set(),
        pullRequest: null,
      },
    );
  }
  const mainline = mainRuns(random.fork("main"), repository, mainPushes, runs, { start: firstDay - DAY, redSince: isRed ? redSince : null });
  scheduledRuns(random.fork("schedule"), repository, mainline, firstDay, range.to, runs);
  return runs;
}

/** Pull requests opened each day (fewer at weekends), in their authors' working hours. */
function openPulls(random: Random, repository: RepositorySpec, firstDay: number, to: number): Pull[] {
  const pulls: Omit<Pull, "number">[] = [];
  const bot = personOf("dependabot[bot]");
  for (let day = firstDay; day < to; day += DAY) {
    const weekend = [0, 6].includes(new Date(day).getUTCDay());
    const count = poisson(random, repository.pullsPerDay * (weekend ? 0.08 : 1));
    for (let i = 0; i < count; i++) {
      const author = personOf(random.pick(repository.contributors));
      const title = random.pick(repository.titles);
      const start = day + Math.round((random.between(9, 18) - author.utcOffset) * HOUR);
      pulls.push({ title, author, start, branch: branchName(author, title) });
    }
    if (!weekend && repository.bumps.length > 0 && random.chance(0.25)) {
      const bump = random.pick(repository.bumps);
      const [name, , , version] = bump.split(" ");
      const ecosystem = repository.language === "Go" ? "go_modules" : "npm_and_yarn";
      pulls.push({ title: `Bump ${bump}`, author: bot, start: day + random.int(4 * 60, 6 * 60) * MINUTE, branch: `dependabot/${ecosystem}/${name}-${version}` });
    }
  }
  pulls.sort((a, b) => a.start - b.start);
  let number = random.int(400, 1800);
  return pulls.map((pull) => ({ ...pull, number: (number += random.int(1, 3)) }));
}

/**
 * The pushes of one pull request and their runs: a broken push is followed by a fix, review
 * rounds add pushes, a push while runs are going cancels them, and a flaky failure on the last
 * push is re-run until green. Answers when it was merged, or null if not (yet).
 */
function pullRequestRuns(random: Random, repository: RepositorySpec, pull: Pull, runs: PlannedRun[]): number | null {
  const workflows = repository.workflows.filter((w) => w.triggers.includes("pull_request"));
  const rounds = random.chance(0.45) ? random.int(1, 3) : 0;
  const pushes: Push[] = [];
  let at = pull.start;
  for (let i = 0; i < 6; i++) {
    const previous = pushes.at(-1);
    const fixing = previous && previous.defects.size > 0;
    const pusher = pull.author.bot && i > 0 ? reviewerOf(random, repository, pull.author) : pull.author;
    const message = i === 0 ? pull.title : fixing ? random.pick(FIXES[[...previous.defects][0]!]) : random.pick(FOLLOW_UPS);
    const defects = i === 5 ? new Set<Defect>() : pullDefects(random, i === 0 ? 1 : 0.45);
    pushes.push({ at, commit: commit(random, message, pusher, at), actor: pusher, defects, pullRequest: { number: pull.number, title: pull.title } });
    if (i >= rounds && defects.size === 0) break;
    at += defects.size > 0 ? Math.max(6 * MINUTE, random.around(40 * MINUTE, 0.6)) : Math.max(15 * MINUTE, random.around(3 * HOUR, 0.8));
  }

  let green = pull.start;
  pushes.forEach((push, i) => {
    const next = pushes[i + 1];
    for (const workflow of workflows) {
      const run = plannedRun(random, repository, workflow, push, "pull_request", pull.branch);
      let attempt = simulateAttempt(random, run, { number: 1, triggeringActor: push.actor, startAt: run.createdAt, defects: push.defects });
      if (next && workflow.cancelInProgress) attempt = cancelAttempt(attempt, new Date(next.at));
      run.attempts.push(attempt);
      // Nobody needs a later push's predecessor green, so only sometimes is it re-run.
      if (attempt.conclusion === "failure" && !catches(workflow, push.defects) && (!next || random.chance(0.3))) {
        rerunUntilGreen(random, run, pull.author, push.defects);
      }
      runs.push(run);
      if (!next) green = Math.max(green, run.attempts.at(-1)!.completedAt.getTime());
    }
  });
  // A few pull requests are closed unmerged.
  if (random.chance(0.06)) return null;
  return green + Math.max(10 * MINUTE, random.around(2.5 * HOUR, 0.9));
}

/**
 * Main: every merge runs the push workflows; CI passing starts the deploy; a merge that broke
 * CI gets a fix (or a revert) from its author within the hour, except on the red branch: from
 * `redSince` on, every push to main fails its integration tests.
 * Answers the main commits, oldest first, for the schedules to run on.
 */
function mainRuns(
  random: Random,
  repository: RepositorySpec,
  pushes: Push[],
  runs: PlannedRun[],
  options: { start: number; redSince: number | null },
): DemoCommit[] {
  const author = personOf(repository.contributors[0]!);
  const mainline: DemoCommit[] = [commit(random, `${random.pick(repository.titles)} (#${random.int(300, 399)})`, author, options.start)];
  const queue = [...pushes].sort((a, b) => a.at - b.at);
  let firstRed = true;
  for (let i = 0; i < queue.length; i++) {
    const push = queue[i]!;
    const red = options.redSince !== null && push.at >= options.redSince;
    if (red) push.defects = new Set(["integration"]);
    mainline.push(push.commit);
    for (const workflow of repository.workflows.filter((w) => w.triggers.includes("push"))) {
      const run = plannedRun(random, repository, workflow, push, "push", "main");
      run.attempts.push(simulateAttempt(random, run, { number: 1, triggeringActor: push.actor, startAt: run.createdAt, defects: push.defects }));
      const caught = catches(workflow, push.defects);
      if (run.attempts[0]!.conclusion === "failure") {
        if (!caught && random.chance(0.85)) rerunUntilGreen(random, run, push.actor, push.defects);
        if (red && firstRed && workflow.name === "CI") {
          // Whoever merged it hopes it is flaky: the re-run fails the same way.
          run.attempts.push(simulateAttempt(random, run, { number: 2, triggeringActor: push.actor, startAt: after(random, run.attempts[0]!, 12), defects: push.defects }));
          firstRed = false;
        }
        if (caught && !red && workflow.name === "CI") {
          const broken = run.attempts[0]!;
          const fixAt = broken.completedAt.getTime() + Math.max(15 * MINUTE, random.around(40 * MINUTE, 0.5));
          const subject = push.commit.message.replace(/ \(#\d+\)$/, "");
          const message = random.chance(0.3) ? `Revert "${push.commit.message}"` : `${random.pick(FIXES[[...push.defects][0]!])} after "${subject}"`;
          queue.push({ at: fixAt, commit: commit(random, message, push.commit.author, fixAt), actor: push.commit.author, defects: new Set(), pullRequest: null });
          queue.sort((a, b) => a.at - b.at);
        }
      }
      runs.push(run);
      const last = run.attempts.at(-1)!;
      if (workflow.name === "CI" && last.conclusion === "success") deployRuns(random, repository, push, last, runs);
    }
  }
  return mainline;
}

/** The deploy workflows GitHub starts when CI passes on main (`on: workflow_run`). */
function deployRuns(random: Random, repository: RepositorySpec, push: Push, ci: PlannedAttempt, runs: PlannedRun[]) {
  for (const workflow of repository.workflows.filter((w) => w.triggers.includes("deploy"))) {
    const at = ci.completedAt.getTime() + random.int(3, 8) * 1000;
    const run = plannedRun(random, repository, workflow, { ...push, at }, "workflow_run", "main");
    run.attempts.push(simulateAttempt(random, run, { number: 1, triggeringActor: push.actor, startAt: run.createdAt, defects: new Set() }));
    if (run.attempts[0]!.conclusion === "failure" && random.chance(0.9)) rerunUntilGreen(random, run, push.actor, new Set());
    runs.push(run);
  }
}

/** Nightly and weekly runs on main's latest commit, a few minutes late as GitHub's schedules are. */
function scheduledRuns(random: Random, repository: RepositorySpec, mainline: DemoCommit[], firstDay: number, to: number, runs: PlannedRun[]) {
  const owner = personOf(repository.scheduleOwner);
  for (let day = firstDay; day < to; day += DAY) {
    for (const workflow of repository.workflows) {
      const nightly = workflow.triggers.includes("nightly");
      const weekly = workflow.triggers.includes("weekly") && new Date(day).getUTCDay() === workflow.weekday;
      if (!nightly && !weekly) continue;
      const at = day + (workflow.hourUtc ?? 0) * HOUR + random.int(3, 14) * MINUTE;
      const head = mainline.filter((c) => c.timestamp.getTime() <= at).at(-1) ?? mainline[0]!;
      const run = plannedRun(random, repository, workflow, { at, commit: head, actor: owner, defects: new Set(), pullRequest: null }, "schedule", "main");
      run.displayTitle = workflow.name;
      run.attempts.push(simulateAttempt(random, run, { number: 1, triggeringActor: owner, startAt: run.createdAt, defects: new Set() }));
      // Someone looks in the morning, and sometimes tries again.
      if (run.attempts[0]!.conclusion === "failure" && random.chance(0.4)) {
        run.attempts.push(simulateAttempt(random, run, { number: 2, triggeringActor: owner, startAt: after(random, run.attempts[0]!, 6 * 60), defects: new Set() }));
      }
      runs.push(run);
    }
  }
}

/** Re-runs a run that failed for no reason in the commit until it passes (three attempts at most). */
function rerunUntilGreen(random: Random, run: PlannedRun, by: Person, defects: ReadonlySet<Defect>) {
  while (run.attempts.at(-1)!.conclusion === "failure" && run.attempts.length < 3) {
    const previous = run.attempts.at(-1)!;
    run.attempts.push(simulateAttempt(random, run, { number: previous.number + 1, triggeringActor: by, startAt: after(random, previous, 12), defects }));
  }
}

/** A while (about `minutes`) after an attempt ended. */
function after(random: Random, attempt: PlannedAttempt, minutes: number): Date {
  return new Date(attempt.completedAt.getTime() + Math.max(2 * MINUTE, random.around(minutes * MINUTE, 0.5)));
}

function plannedRun(random: Random, repository: RepositorySpec, workflow: WorkflowSpec, push: Push, event: PlannedRun["event"], branch: string): PlannedRun {
  return {
    repository,
    workflow,
    id: 0,
    runNumber: 0,
    checkSuiteId: 0,
    event,
    branch,
    commit: push.commit,
    actor: push.actor,
    pullRequest: event === "pull_request" ? push.pullRequest : null,
    displayTitle: event === "pull_request" ? push.pullRequest!.title : push.commit.message.split("\n")[0]!,
    createdAt: new Date(push.at + random.int(2, 6) * 1000),
    attempts: [],
  };
}

/** Whether the workflow has a job that fails on one of these defects. */
function catches(workflow: WorkflowSpec, defects: ReadonlySet<Defect>): boolean {
  return workflow.jobs.some((job) => Object.keys(job.catches ?? {}).some((defect) => defects.has(defect as Defect)));
}

/** What is wrong with a pull request's push: more often its first one. */
function pullDefects(random: Random, weight: number): Set<Defect> {
  const defects = new Set<Defect>();
  if (random.chance(0.14 * weight)) defects.add("test");
  if (random.chance(0.08 * weight)) defects.add("lint");
  if (random.chance(0.05 * weight)) defects.add("format");
  if (random.chance(0.05 * weight)) defects.add("build");
  return defects;
}

/** A merge that breaks main: two changes that passed alone but not together. */
function mainDefects(random: Random): Set<Defect> {
  return random.chance(0.04) ? new Set<Defect>(["test"]) : new Set();
}

function reviewerOf(random: Random, repository: RepositorySpec, author: Person): Person {
  const others = repository.contributors.filter((login) => login !== author.login);
  return personOf(random.pick(others));
}

function commit(random: Random, message: string, author: Person, at: number): DemoCommit {
  return { sha: random.hex(40), message, author, timestamp: new Date(at) };
}

function poisson(random: Random, mean: number): number {
  const limit = Math.exp(-mean);
  let count = 0;
  for (let p = random.next(); p > limit; p *= random.next()) count++;
  return count;
}
