import { DEMO_ORGANIZATION, RUNNER_LABELS, type Person, type RepositorySpec } from "./demo-organization.js";
import type { Random } from "./random.js";
import type { PlannedAttempt, PlannedJob, PlannedStep } from "./simulate-attempt.js";

/** One webhook delivery as GitHub would send it, and when. */
export interface DemoDelivery {
  /** The `X-GitHub-Delivery` GUID. */
  id: string;
  event: "workflow_run" | "workflow_job";
  at: Date;
  payload: Record<string, unknown>;
}

const API = "https://api.github.com";
const WEB = "https://github.com";

/**
 * The deliveries GitHub sends for one attempt of a run, in the order it sends them:
 * `workflow_run` requested, each job queued (or waiting for approval), in progress and completed,
 * `workflow_run` in progress once a job starts, and completed. Payloads have the shape of real
 * ones (the fields Runboard reads and the usual ones around them).
 * @param random draws the delivery GUIDs.
 */
export function runDeliveries(random: Random, attempt: PlannedAttempt): DemoDelivery[] {
  const { run } = attempt;
  const deliveries: DemoDelivery[] = [];
  const add = (event: DemoDelivery["event"], at: Date, payload: Record<string, unknown>) =>
    deliveries.push({ id: guid(random), event, at, payload: { ...payload, ...envelope(run.repository, attempt.triggeringActor) } });

  add("workflow_run", attempt.startedAt, { action: "requested", workflow_run: runObject(attempt, "requested"), workflow: workflowObject(attempt) });
  const firstStart = firstJobStart(attempt);
  let runInProgressSent = false;
  const jobEvents = attempt.jobs
    .flatMap((job) => jobPhases(job).map((phase) => ({ job, ...phase })))
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  for (const { job, action, at } of jobEvents) {
    if (!runInProgressSent && at.getTime() >= firstStart) {
      add("workflow_run", at, { action: "in_progress", workflow_run: runObject(attempt, "in_progress"), workflow: workflowObject(attempt) });
      runInProgressSent = true;
    }
    add("workflow_job", at, { action, workflow_job: jobObject(attempt, job, action) });
  }
  add("workflow_run", attempt.completedAt, { action: "completed", workflow_run: runObject(attempt, "completed"), workflow: workflowObject(attempt) });
  return deliveries;
}

/** When the first job of the attempt started (Infinity when none did). */
function firstJobStart(attempt: PlannedAttempt): number {
  return Math.min(...attempt.jobs.flatMap((job) => (job.startedAt ? [job.startedAt.getTime()] : [])));
}

type JobAction = "queued" | "waiting" | "in_progress" | "completed";

/** The deliveries of one job: a skipped job is only ever reported completed. */
function jobPhases(job: PlannedJob): Array<{ action: JobAction; at: Date }> {
  if (job.conclusion === "skipped") return [{ action: "completed", at: job.completedAt }];
  const phases: Array<{ action: JobAction; at: Date }> = [{ action: job.approvedAt ? "waiting" : "queued", at: job.queuedAt }];
  if (job.startedAt) phases.push({ action: "in_progress", at: job.startedAt });
  phases.push({ action: "completed", at: job.completedAt });
  return phases;
}

function envelope(repository: RepositorySpec, sender: Person) {
  const org = DEMO_ORGANIZATION;
  return {
    repository: repositoryObject(repository, true),
    organization: {
      login: org.login,
      id: org.id,
      node_id: nodeId("O_kgDO", org.id),
      url: `${API}/orgs/${org.login}`,
      repos_url: `${API}/orgs/${org.login}/repos`,
      hooks_url: `${API}/orgs/${org.login}/hooks`,
      avatar_url: `https://avatars.githubusercontent.com/u/${org.id}?v=4`,
      description: "Autonomous robots for warehouses and factory floors",
    },
    sender: userObject(sender),
    installation: { id: org.installationId, node_id: nodeId("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u", org.installationId) },
  };
}

const repositoryObjects = new Map<string, Record<string, unknown>>();

/** The repository as payloads carry it: in full beside the event, minimal inside a run. Shared, never changed. */
function repositoryObject(repository: RepositorySpec, full: boolean): Record<string, unknown> {
  const key = `${repository.id} ${full}`;
  let object = repositoryObjects.get(key);
  if (!object) repositoryObjects.set(key, (object = buildRepositoryObject(repository, full)));
  return object;
}

function buildRepositoryObject(repository: RepositorySpec, full: boolean): Record<string, unknown> {
  const org = DEMO_ORGANIZATION;
  const fullName = `${org.login}/${repository.name}`;
  const minimal = {
    id: repository.id,
    node_id: nodeId("R_kgDO", repository.id),
    name: repository.name,
    full_name: fullName,
    private: true,
    owner: { login: org.login, id: org.id, node_id: nodeId("O_kgDO", org.id), type: "Organization", site_admin: false, html_url: `${WEB}/${org.login}` },
    html_url: `${WEB}/${fullName}`,
    description: repository.description,
    fork: false,
    url: `${API}/repos/${fullName}`,
  };
  if (!full) return minimal;
  return {
    ...minimal,
    created_at: repository.createdAt,
    git_url: `git://github.com/${fullName}.git`,
    ssh_url: `git@github.com:${fullName}.git`,
    clone_url: `${WEB}/${fullName}.git`,
    language: repository.language,
    archived: false,
    disabled: false,
    visibility: "private",
    default_branch: "main",
    topics: [],
  };
}

function userObject(person: Person) {
  return {
    login: person.login,
    id: person.id,
    node_id: nodeId(person.bot ? "MDM6Qm90" : "MDQ6VXNlcg", person.id),
    avatar_url: `https://avatars.githubusercontent.com/u/${person.id}?v=4`,
    url: `${API}/users/${encodeURIComponent(person.login)}`,
    html_url: person.bot ? `${WEB}/apps/${person.login.replace("[bot]", "")}` : `${WEB}/${person.login}`,
    type: person.bot ? "Bot" : "User",
    site_admin: false,
  };
}

function workflowObject(attempt: PlannedAttempt) {
  const { repository, workflow } = attempt.run;
  const fullName = `${DEMO_ORGANIZATION.login}/${repository.name}`;
  return {
    id: workflow.id,
    node_id: nodeId("W_kwDO", workflow.id),
    name: workflow.name,
    path: workflow.file,
    state: "active",
    created_at: repository.createdAt,
    updated_at: repository.createdAt,
    url: `${API}/repos/${fullName}/actions/workflows/${workflow.id}`,
    html_url: `${WEB}/${fullName}/blob/main/${workflow.file}`,
    badge_url: `${WEB}/${fullName}/workflows/${encodeURIComponent(workflow.name)}/badge.svg`,
  };
}

function runObject(attempt: PlannedAttempt, phase: "requested" | "in_progress" | "completed") {
  const { run } = attempt;
  const fullName = `${DEMO_ORGANIZATION.login}/${run.repository.name}`;
  const runUrl = `${API}/repos/${fullName}/actions/runs/${run.id}`;
  const updatedAt = phase === "requested" ? attempt.startedAt : phase === "in_progress" ? new Date(firstJobStart(attempt)) : attempt.completedAt;
  return {
    id: run.id,
    name: run.workflow.name,
    node_id: nodeId("WFR_kwLO", run.id),
    head_branch: run.branch,
    head_sha: run.commit.sha,
    path: run.workflow.file,
    display_title: run.displayTitle,
    run_number: run.runNumber,
    event: run.event,
    status: phase === "requested" ? "queued" : phase,
    conclusion: phase === "completed" ? attempt.conclusion : null,
    workflow_id: run.workflow.id,
    check_suite_id: run.checkSuiteId,
    check_suite_node_id: nodeId("CS_kwDO", run.checkSuiteId),
    url: runUrl,
    html_url: `${WEB}/${fullName}/actions/runs/${run.id}`,
    pull_requests: run.pullRequest
      ? [
          {
            url: `${API}/repos/${fullName}/pulls/${run.pullRequest.number}`,
            id: run.pullRequest.number * 7919 + run.repository.id,
            number: run.pullRequest.number,
            head: { ref: run.branch, sha: run.commit.sha, repo: { id: run.repository.id, url: `${API}/repos/${fullName}`, name: run.repository.name } },
            base: { ref: "main", sha: run.commit.sha.split("").reverse().join(""), repo: { id: run.repository.id, url: `${API}/repos/${fullName}`, name: run.repository.name } },
          },
        ]
      : [],
    created_at: iso(run.createdAt),
    updated_at: iso(updatedAt),
    actor: userObject(run.actor),
    run_attempt: attempt.number,
    referenced_workflows: [],
    run_started_at: iso(attempt.startedAt),
    triggering_actor: userObject(attempt.triggeringActor),
    jobs_url: `${runUrl}/jobs`,
    logs_url: `${runUrl}/logs`,
    check_suite_url: `${API}/repos/${fullName}/check-suites/${run.checkSuiteId}`,
    artifacts_url: `${runUrl}/artifacts`,
    cancel_url: `${runUrl}/cancel`,
    rerun_url: `${runUrl}/rerun`,
    previous_attempt_url: attempt.number > 1 ? `${runUrl}/attempts/${attempt.number - 1}` : null,
    workflow_url: `${API}/repos/${fullName}/actions/workflows/${run.workflow.id}`,
    head_commit: {
      id: run.commit.sha,
      tree_id: run.commit.sha.slice(20) + run.commit.sha.slice(0, 20),
      message: run.commit.message,
      timestamp: iso(run.commit.timestamp),
      author: { name: run.commit.author.name, email: email(run.commit.author) },
      committer: run.event === "push" ? { name: "GitHub", email: "noreply@github.com" } : { name: run.commit.author.name, email: email(run.commit.author) },
    },
    repository: repositoryObject(run.repository, false),
    head_repository: repositoryObject(run.repository, false),
  };
}

function jobObject(attempt: PlannedAttempt, job: PlannedJob, action: JobAction) {
  const { run } = attempt;
  const fullName = `${DEMO_ORGANIZATION.login}/${run.repository.name}`;
  const running = action === "in_progress";
  const done = action === "completed";
  const assigned = (running || done) && job.runner !== null && job.startedAt !== null;
  const steps: PlannedStep[] = done ? job.steps : running ? job.steps.slice(0, 1) : [];
  return {
    id: job.id,
    run_id: run.id,
    workflow_name: run.workflow.name,
    head_branch: run.branch,
    run_url: `${API}/repos/${fullName}/actions/runs/${run.id}`,
    run_attempt: attempt.number,
    node_id: nodeId("CR_kwDO", job.id),
    head_sha: run.commit.sha,
    url: `${API}/repos/${fullName}/actions/jobs/${job.id}`,
    html_url: `${WEB}/${fullName}/actions/runs/${run.id}/job/${job.id}`,
    status: action,
    conclusion: done ? job.conclusion : null,
    created_at: iso(job.queuedAt),
    started_at: iso(job.startedAt ?? job.queuedAt),
    completed_at: done ? iso(job.completedAt) : null,
    name: job.spec.name,
    steps: steps.map((step) => ({
      name: step.name,
      status: running ? "in_progress" : "completed",
      conclusion: running ? null : step.conclusion,
      number: step.number,
      started_at: iso(step.startedAt),
      completed_at: running ? null : iso(step.completedAt),
    })),
    check_run_url: `${API}/repos/${fullName}/check-runs/${job.id}`,
    labels: RUNNER_LABELS[job.spec.runner],
    runner_id: assigned ? job.runner!.id : null,
    runner_name: assigned ? job.runner!.name : null,
    runner_group_id: assigned ? job.runner!.groupId : null,
    runner_group_name: assigned ? job.runner!.groupName : null,
  };
}

function email(person: Person): string {
  return person.bot ? `49699333+${person.login}@users.noreply.github.com` : `${person.id}+${person.login}@users.noreply.github.com`;
}

/** GitHub writes times to the second. */
function iso(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function nodeId(prefix: string, id: number): string {
  return prefix + Buffer.from(String(id)).toString("base64").replace(/=+$/, "");
}

/** GitHub's delivery GUIDs are version-1 UUIDs. */
function guid(random: Random): string {
  return `${random.hex(8)}-${random.hex(4)}-11ef-${(8 + random.int(0, 3)).toString(16)}${random.hex(3)}-${random.hex(12)}`;
}
