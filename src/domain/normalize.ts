import type { Endpoints } from "@octokit/types";
import type { WorkflowJob as WebhookWorkflowJob, WorkflowRun as WebhookWorkflowRun } from "@octokit/webhooks-types";
import { z } from "zod/v4";
import { cleanText } from "./clean-text.js";
import { omitDerivedUrls } from "./payload-urls.js";
import { isFinished, statusRank, toStatus, type Status } from "./status.js";

/** GitHub Actions' row in the providers table. */
export const GITHUB_ACTIONS_PROVIDER_ID = 1;

/** One workflow run as Runboard stores it, whether it came from a webhook or the poller. */
export interface BuildRecord {
  providerId: number;
  installationId: number | null;
  repositoryId: number;
  repository: string;
  /** The repository's default branch when the payload says (webhooks do; REST run objects don't). */
  defaultBranch: string | null;
  externalId: number;
  runAttempt: number;
  runNumber: number | null;
  workflowId: number | null;
  workflow: string;
  status: Status;
  statusRank: number;
  rawStatus: string | null;
  conclusion: string | null;
  branch: string | null;
  commitSha: string | null;
  commitMessage: string | null;
  triggeredBy: string | null;
  event: string | null;
  url: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  payload: unknown;
}

export interface StepRecord {
  number: number;
  name: string;
  status: Status;
  conclusion: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

/** One job of one attempt of a run. */
export interface JobRecord {
  id: number;
  providerId: number;
  installationId: number | null;
  repositoryId: number;
  repository: string;
  runId: number;
  runAttempt: number;
  workflow: string;
  branch: string | null;
  commitSha: string | null;
  name: string;
  status: Status;
  statusRank: number;
  progress: number;
  rawStatus: string | null;
  conclusion: string | null;
  runnerLabels: string[];
  runnerName: string | null;
  runnerGroup: string | null;
  steps: StepRecord[];
  failedStep: string | null;
  url: string | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  completedAt: Date | null;
  payload: unknown;
}

/** One run of a REST listing (`GET /repos/{owner}/{repo}/actions/runs`), as Octokit types it. */
export type RestWorkflowRun = Endpoints["GET /repos/{owner}/{repo}/actions/runs"]["response"]["data"]["workflow_runs"][number];
/** One job of a REST listing of an attempt's jobs, as Octokit types it. */
export type RestWorkflowJob = Endpoints["GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"]["response"]["data"]["jobs"][number];

/**
 * A run as GitHub documents it: a `workflow_run` delivery's run (@octokit/webhooks-types) or a
 * REST answer's. The types say what GitHub promises; the fields are still parsed leniently
 * below, since even a signed payload may lack a field, hold a null, or a number out of range.
 */
export type WorkflowRunInput = WebhookWorkflowRun | RestWorkflowRun;
/** A job as GitHub documents it: a `workflow_job` delivery's job or a REST answer's. */
export type WorkflowJobInput = WebhookWorkflowJob | RestWorkflowJob;
/** The repository a delivery names, or the one a REST listing was read from. */
export interface RepositoryInput {
  id: number;
  full_name: string;
  default_branch?: string | null;
}
/** The installation a delivery names, or the one a REST listing was read with. */
export interface InstallationInput {
  id: number;
}

/** A payload Runboard cannot store, with the reason to log. */
export interface Unusable {
  unusable: string;
}

// Lenient shapes: only what Runboard needs is required; everything else may be missing or null.
const id = z.number().int().positive();
const text = z.string().nullish().catch(null);
const time = z.string().nullish().catch(null).transform(toTime);
const login = z.object({ login: z.string() }).nullish().catch(null);
const repositorySchema = z.object({ id, full_name: z.string().min(1), default_branch: text });

const runSchema = z.object({
  id,
  name: text,
  path: text,
  display_title: text,
  // Both are `integer` columns: a number past that is as good as none.
  run_attempt: z.int32().positive().nullish().catch(null),
  run_number: z.int32().nullish().catch(null),
  workflow_id: z.number().int().nullish().catch(null),
  status: text,
  conclusion: text,
  head_branch: text,
  head_sha: text,
  head_commit: z.object({ message: text }).nullish().catch(null),
  event: text,
  html_url: text,
  created_at: time,
  updated_at: time,
  run_started_at: time,
  actor: login,
  triggering_actor: login,
  repository: repositorySchema.nullish().catch(null),
});

const stepSchema = z.object({
  number: z.number().int().catch(0),
  name: z.string().catch(""),
  status: text,
  conclusion: text,
  started_at: text,
  completed_at: text,
});

const jobSchema = z.object({
  id,
  run_id: id,
  run_attempt: z.int32().positive().nullish().catch(null),
  name: z.string().catch(""),
  workflow_name: text,
  head_branch: text,
  head_sha: text,
  status: text,
  conclusion: text,
  html_url: text,
  created_at: time,
  started_at: time,
  completed_at: time,
  labels: z.array(z.string()).nullish().catch(null),
  runner_name: text,
  runner_group_name: text,
  steps: z.array(z.unknown()).nullish().catch(null),
});

const installationSchema = z.object({ id }).nullish().catch(null);

/**
 * A time PostgreSQL's timestamptz takes, or null. It has no year 0 and reads no years of more
 * than four digits as JavaScript writes them (`+275760-09-13T00:00:00.000Z`); GitHub's own
 * times are all recent, so a time outside years 1 to 9999 is as good as none.
 */
function toTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  const year = date.getUTCFullYear();
  // An unparseable value gives NaN, which is in no range.
  return year >= 1 && year <= 9999 ? date : null;
}

// GitHub's own form of a time, in years 1000 to 8999 (so that no offset moves it out of range): a
// time toTime takes, found without parsing a Date (a job has dozens of step times). Days past a
// month's end are taken, as Date takes them.
const GITHUB_TIME = /^[1-8]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** A step's time stays GitHub's text (it is kept in the steps JSON), when it is a time at all. */
function stepTime(value: string | null | undefined): string | null {
  return value && (GITHUB_TIME.test(value) || toTime(value)) ? value : null;
}

/** Text as PostgreSQL will hold it (see cleanText), or null. */
function clean(value: string | null | undefined): string | null {
  return value == null ? null : cleanText(value);
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join(".") || "payload"}: ${issue.message}`;
}

/**
 * Turns a workflow run object (a `workflow_run` webhook's `workflow_run`, or one run from the
 * REST API) into a {@link BuildRecord}. Pure: the same input always gives the same record.
 * @param fallbackRepository the delivery's `repository`, for runs that lack their own.
 */
export function normalizeWorkflowRun(
  raw: WorkflowRunInput,
  options: { installation?: InstallationInput | null; fallbackRepository?: RepositoryInput | null } = {},
): BuildRecord | Unusable {
  const parsed = runSchema.safeParse(raw);
  if (!parsed.success) {
    return { unusable: `workflow_run ${describe(parsed.error)}` };
  }
  const run = parsed.data;
  const fallback = repositorySchema.safeParse(options.fallbackRepository).data;
  const repository = run.repository ?? fallback;
  if (!repository) {
    return { unusable: "workflow_run has no repository with an id and full_name" };
  }
  const status = toStatus(run.status, run.conclusion);
  const createdAt = run.created_at;
  const startedAt = run.run_started_at ?? createdAt;
  // Text is cleaned field by field, the payload where it is written (db/values.ts jsonText).
  return {
    providerId: GITHUB_ACTIONS_PROVIDER_ID,
    installationId: installationSchema.parse(options.installation)?.id ?? null,
    repositoryId: repository.id,
    repository: cleanText(repository.full_name),
    defaultBranch: clean(repository.default_branch ?? fallback?.default_branch),
    externalId: run.id,
    runAttempt: run.run_attempt ?? 1,
    runNumber: run.run_number ?? null,
    workflowId: run.workflow_id ?? null,
    workflow: workflowName(run.name, run.path, run.workflow_id),
    status,
    statusRank: statusRank(status),
    rawStatus: clean(run.status),
    conclusion: clean(run.conclusion),
    branch: clean(run.head_branch),
    commitSha: clean(run.head_sha),
    commitMessage: clean(run.head_commit?.message ?? run.display_title),
    triggeredBy: clean(run.triggering_actor?.login ?? run.actor?.login),
    event: clean(run.event),
    url: clean(run.html_url),
    createdAt,
    updatedAt: run.updated_at,
    startedAt: status === "queued" ? null : startedAt,
    finishedAt: isFinished(status) ? (run.updated_at ?? null) : null,
    // Stored without the URLs GitHub derives from the repositories' and users' own (payload-urls.ts).
    payload: omitDerivedUrls(raw),
  };
}

/**
 * Turns a workflow job object (a `workflow_job` webhook's `workflow_job`, or one job from the
 * REST API) into a {@link JobRecord}.
 * @param repository the delivery's `repository` (jobs do not carry their own).
 */
export function normalizeWorkflowJob(
  raw: WorkflowJobInput,
  options: { repository: RepositoryInput | null | undefined; installation?: InstallationInput | null },
): JobRecord | Unusable {
  const parsed = jobSchema.safeParse(raw);
  if (!parsed.success) {
    return { unusable: `workflow_job ${describe(parsed.error)}` };
  }
  const repository = repositorySchema.safeParse(options.repository);
  if (!repository.success) {
    return { unusable: `workflow_job repository ${describe(repository.error)}` };
  }
  const job = parsed.data;
  const status = toStatus(job.status, job.conclusion);
  const steps = (job.steps ?? []).flatMap((step): StepRecord[] => {
    const s = stepSchema.safeParse(step);
    if (!s.success) return [];
    return [
      {
        number: s.data.number,
        name: cleanText(s.data.name),
        status: toStatus(s.data.status, s.data.conclusion),
        conclusion: clean(s.data.conclusion),
        startedAt: stepTime(s.data.started_at),
        completedAt: stepTime(s.data.completed_at),
      },
    ];
  });
  const failed = steps.find((step) => step.status === "failed");
  return {
    id: job.id,
    providerId: GITHUB_ACTIONS_PROVIDER_ID,
    installationId: installationSchema.parse(options.installation)?.id ?? null,
    repositoryId: repository.data.id,
    repository: cleanText(repository.data.full_name),
    runId: job.run_id,
    runAttempt: job.run_attempt ?? 1,
    workflow: workflowName(job.workflow_name, null, null),
    branch: clean(job.head_branch),
    commitSha: clean(job.head_sha),
    name: cleanText(job.name) || `job ${job.id}`,
    status,
    statusRank: statusRank(status),
    progress: Math.min(steps.filter((step) => isFinished(step.status)).length, 32_767),
    rawStatus: clean(job.status),
    conclusion: clean(job.conclusion),
    runnerLabels: (job.labels ?? []).map(cleanText),
    runnerName: clean(job.runner_name),
    runnerGroup: clean(job.runner_group_name),
    steps,
    failedStep: failed?.name ?? null,
    url: clean(job.html_url),
    queuedAt: job.created_at,
    // GitHub fills started_at while a job still waits for a runner.
    startedAt: status === "queued" ? null : job.started_at,
    completedAt: isFinished(status) ? job.completed_at : null,
    payload: raw,
  };
}

export function isUnusable(value: object): value is Unusable {
  return "unusable" in value;
}

/** Workflows may have an empty name; their file name, then their id, stand in. */
function workflowName(name: string | null | undefined, filePath: string | null | undefined, workflowId: number | null | undefined): string {
  // Cleaned first: a name of nothing but NUL characters is no name.
  const cleaned = name && cleanText(name).trim();
  if (cleaned) return cleaned;
  const file = filePath && cleanText(filePath);
  if (file) return file.split("/").pop() || file;
  return workflowId ? `workflow ${workflowId}` : "(unnamed workflow)";
}
