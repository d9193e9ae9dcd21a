import { describe, expect, it } from "vitest";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord } from "../../src/domain/normalize.js";
import { statusRank, toStatus } from "../../src/domain/status.js";
import { workflowExamples } from "../helpers/webhook-examples.js";

describe("toStatus", () => {
  it.each([
    ["requested", null, "queued"],
    ["queued", null, "queued"],
    ["waiting", null, "queued"],
    ["pending", null, "queued"],
    ["action_required", null, "queued"],
    ["in_progress", null, "running"],
    ["completed", "success", "success"],
    ["completed", "failure", "failed"],
    ["completed", "timed_out", "failed"],
    ["completed", "startup_failure", "failed"],
    ["completed", "cancelled", "cancelled"],
    ["completed", "skipped", "skipped"],
    ["completed", "neutral", "skipped"],
    ["completed", "stale", "skipped"],
    ["completed", "action_required", "queued"],
    ["completed", null, "skipped"],
    ["completed", "something_new", "skipped"],
    ["something_new", null, "queued"],
  ])("%s / %s -> %s", (status, conclusion, expected) => {
    expect(toStatus(status, conclusion)).toBe(expected);
  });

  it("ranks queued below running below finished", () => {
    expect(statusRank("queued")).toBeLessThan(statusRank("running"));
    for (const finished of ["success", "failed", "cancelled", "skipped"] as const) {
      expect(statusRank("running")).toBeLessThan(statusRank(finished));
    }
  });
});

describe("normalizeWorkflowRun", () => {
  const example = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.conclusion === "success")!;

  it("maps a real completed run", () => {
    const record = normalizeWorkflowRun(example.payload.workflow_run, { installation: { id: 7 } }) as BuildRecord;
    expect(isUnusable(record)).toBe(false);
    expect(record).toMatchObject({
      providerId: 1,
      installationId: 7,
      repositoryId: example.payload.workflow_run.repository.id,
      repository: example.payload.workflow_run.repository.full_name,
      externalId: 289782451,
      runAttempt: 1,
      status: "success",
      statusRank: 3,
      rawStatus: "completed",
      conclusion: "success",
      branch: "master",
      triggeredBy: "Codertocat",
      startedAt: new Date("2020-10-05T16:33:49Z"),
      finishedAt: new Date("2020-10-05T16:33:49Z"),
    });
    expect(record.payload).toBe(example.payload.workflow_run);
  });

  it("is pure: the same input gives the same record", () => {
    expect(normalizeWorkflowRun(example.payload.workflow_run)).toEqual(normalizeWorkflowRun(example.payload.workflow_run));
  });

  it("says why a run cannot be stored", () => {
    expect(normalizeWorkflowRun(undefined)).toEqual({ unusable: expect.stringContaining("workflow_run") });
    expect(normalizeWorkflowRun({ id: 5 })).toEqual({ unusable: "workflow_run has no repository with an id and full_name" });
    expect(normalizeWorkflowRun({ id: -1 })).toMatchObject({ unusable: expect.stringContaining("id") });
  });

  it("leaves a queued run without start and finish times", () => {
    const record = normalizeWorkflowRun({ ...example.payload.workflow_run, status: "queued", conclusion: null }) as BuildRecord;
    expect(record).toMatchObject({ status: "queued", startedAt: null, finishedAt: null });
  });
});

describe("normalizeWorkflowJob", () => {
  const failed = workflowExamples().find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!;

  it("finds the failed step and the runner", () => {
    const record = normalizeWorkflowJob(failed.payload.workflow_job, { repository: failed.payload.repository });
    expect(record).toMatchObject({
      runId: 2202229078,
      status: "failed",
      failedStep: "Run yarn run format-check",
      runnerLabels: ["ubuntu-latest"],
      runnerGroup: "GitHub Actions",
      progress: 12,
      workflow: "CodeQL",
    });
  });

  it("needs the delivery's repository", () => {
    expect(normalizeWorkflowJob(failed.payload.workflow_job, { repository: undefined })).toMatchObject({
      unusable: expect.stringContaining("repository"),
    });
  });
});
