import { GITHUB_ACTIONS_PROVIDER_ID, type BuildRecord, type JobRecord } from "../../src/domain/normalize.js";
import { isFinished, statusRank, type Status } from "../../src/domain/status.js";

const REPOSITORY_ID = 880_001;
const REPOSITORY = "acme/records";

/**
 * A run snapshot as normalize makes it, written straight to the database with `writeBatch`
 * (no delivery, no installation: no check run and no alert).
 */
export function buildRecord(fields: Partial<BuildRecord> & { externalId: number; status: Status }): BuildRecord {
  const createdAt = fields.createdAt ?? new Date("2026-07-01T10:00:00Z");
  return {
    providerId: GITHUB_ACTIONS_PROVIDER_ID,
    installationId: null,
    repositoryId: REPOSITORY_ID,
    repository: REPOSITORY,
    defaultBranch: "main",
    runAttempt: 1,
    runNumber: fields.externalId,
    workflowId: null,
    workflow: "CI",
    statusRank: statusRank(fields.status),
    rawStatus: null,
    conclusion: null,
    branch: "main",
    commitSha: `sha-${fields.externalId}`,
    commitMessage: null,
    triggeredBy: "mona",
    event: "push",
    url: null,
    createdAt,
    updatedAt: createdAt,
    startedAt: createdAt,
    finishedAt: isFinished(fields.status) ? new Date(createdAt.getTime() + 60_000) : null,
    payload: { id: fields.externalId },
    ...fields,
  };
}

/** A job snapshot of run `runId` (written with its run, or alone: it then gets a placeholder run). */
export function jobRecord(fields: Partial<JobRecord> & { id: number; runId: number; status: Status }): JobRecord {
  return {
    providerId: GITHUB_ACTIONS_PROVIDER_ID,
    installationId: null,
    repositoryId: REPOSITORY_ID,
    repository: REPOSITORY,
    runAttempt: 1,
    workflow: "CI",
    branch: "main",
    commitSha: `sha-${fields.runId}`,
    name: "test",
    statusRank: statusRank(fields.status),
    progress: 0,
    rawStatus: null,
    conclusion: null,
    runnerLabels: [],
    runnerName: null,
    runnerGroup: null,
    steps: [],
    failedStep: null,
    url: null,
    queuedAt: new Date("2026-07-01T10:00:00Z"),
    startedAt: null,
    completedAt: null,
    payload: { id: fields.id },
    ...fields,
  };
}
