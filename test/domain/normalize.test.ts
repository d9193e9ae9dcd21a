import { describe, expect, it } from "vitest";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type BuildRecord, type JobRecord } from "../../src/domain/normalize.js";
import { omitDerivedUrls, restoreDerivedUrls } from "../../src/domain/payload-urls.js";
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
    // Stored without the URLs derived from its repositories' and users' own, which the payload page gives back.
    expect(record.payload).toEqual(omitDerivedUrls(example.payload.workflow_run));
    expect(restoreDerivedUrls(record.payload)).toEqual(example.payload.workflow_run);
  });

  it("is pure: the same input gives the same record", () => {
    expect(normalizeWorkflowRun(example.payload.workflow_run)).toEqual(normalizeWorkflowRun(example.payload.workflow_run));
  });

  it("says why a run cannot be stored", () => {
    // Not what GitHub's types promise, which is the point: normalize must not trust them.
    expect(normalizeWorkflowRun(undefined as never)).toEqual({ unusable: expect.stringContaining("workflow_run") });
    expect(normalizeWorkflowRun({ id: 5 } as never)).toEqual({ unusable: "workflow_run has no repository with an id and full_name" });
    expect(normalizeWorkflowRun({ id: -1 } as never)).toMatchObject({ unusable: expect.stringContaining("id") });
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

describe("text and times PostgreSQL would refuse", () => {
  const examples = workflowExamples();
  const run = examples.find((e) => e.event === "workflow_run" && e.payload.workflow_run.conclusion === "success")!.payload;
  const job = examples.find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!.payload;
  const normalizeRun = (over: object) => normalizeWorkflowRun({ ...run.workflow_run, ...over }) as BuildRecord;
  const normalizeJob = (over: object) => normalizeWorkflowJob({ ...job.workflow_job, ...over }, { repository: job.repository }) as JobRecord;

  it.each([
    ["year 0", "0000-01-01T00:00:00Z"],
    ["a year before 0", "-000001-01-01T00:00:00Z"],
    ["year 10000", "+010000-01-01T00:00:00Z"],
    ["year 99999", "+099999-01-01T00:00:00Z"],
    ["the last date JavaScript knows", "+275760-09-13T00:00:00Z"],
    ["no date at all", "yesterday-ish"],
  ])("takes a time in %s as none", (_label, value) => {
    expect(normalizeRun({ created_at: value, run_started_at: value, updated_at: value })).toMatchObject({
      createdAt: null,
      startedAt: null,
      updatedAt: null,
      finishedAt: null,
    });
    expect(normalizeJob({ created_at: value, started_at: value, completed_at: value })).toMatchObject({
      queuedAt: null,
      startedAt: null,
      completedAt: null,
    });
  });

  it.each(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-03-01T12:00:00+02:00"])("keeps a time PostgreSQL takes: %s", (value) => {
    expect(normalizeRun({ updated_at: value })).toMatchObject({ updatedAt: new Date(value), finishedAt: new Date(value) });
  });

  it("keeps a step's time as GitHub wrote it, or none when it is no storable time", () => {
    const steps = [
      { ...job.workflow_job.steps[0], started_at: "0000-01-01T00:00:00Z", completed_at: "2021-08-05T10:26:11.000Z" },
      { ...job.workflow_job.steps[1], started_at: "not a time", completed_at: "+275760-09-13T00:00:00Z" },
      { ...job.workflow_job.steps[2], started_at: "9999-12-31T23:00:00-05:00", completed_at: "0999-01-01T00:00:00+01:00" },
      { ...job.workflow_job.steps[3], started_at: "2021-08-05T12:26:11+02:00", completed_at: "2021-08-05 10:26:11Z" },
    ];
    expect(normalizeJob({ steps }).steps).toMatchObject([
      { startedAt: null, completedAt: "2021-08-05T10:26:11.000Z" },
      { startedAt: null, completedAt: null },
      // Year 10000 in UTC; year 999 is still a year PostgreSQL takes.
      { startedAt: null, completedAt: "0999-01-01T00:00:00+01:00" },
      { startedAt: "2021-08-05T12:26:11+02:00", completedAt: "2021-08-05 10:26:11Z" },
    ]);
  });

  it("cleans every text it keeps, and leaves the payload as it came", () => {
    const odd = "a\ud800b\u0000c";
    const raw = {
      ...run.workflow_run,
      head_branch: odd,
      head_commit: { message: odd },
      triggering_actor: { login: odd },
      repository: { ...run.workflow_run.repository, full_name: `octo/${odd}`, default_branch: odd },
    };
    const record = normalizeWorkflowRun(raw) as BuildRecord;
    expect(record).toMatchObject({
      branch: "a\ufffdbc",
      commitMessage: "a\ufffdbc",
      triggeredBy: "a\ufffdbc",
      repository: "octo/a\ufffdbc",
      defaultBranch: "a\ufffdbc",
    });
    // The payload is cleaned as it is written (db/values.ts jsonText), where keys are cleaned too.
    expect(restoreDerivedUrls(record.payload)).toEqual(raw);

    const steps = [{ ...job.workflow_job.steps[0], name: odd, conclusion: "failure" }];
    expect(normalizeJob({ name: odd, runner_name: odd, labels: [odd], steps })).toMatchObject({
      name: "a\ufffdbc",
      runnerName: "a\ufffdbc",
      runnerLabels: ["a\ufffdbc"],
      failedStep: "a\ufffdbc",
      steps: [{ name: "a\ufffdbc" }],
    });
  });

  it("names a workflow and a job whose names are nothing but NUL characters as if they had none", () => {
    expect(normalizeRun({ name: "\u0000\u0000", path: ".github/workflows/ci.yml" })).toMatchObject({ workflow: "ci.yml" });
    expect(normalizeJob({ name: "\u0000", workflow_name: "\u0000" })).toMatchObject({ name: `job ${job.workflow_job.id}`, workflow: "(unnamed workflow)" });
  });

  it("takes a run number or attempt past PostgreSQL's integer as none", () => {
    expect(normalizeRun({ run_number: 2 ** 31, run_attempt: 2 ** 31 })).toMatchObject({ runNumber: null, runAttempt: 1 });
    expect(normalizeRun({ run_number: 2 ** 31 - 1, run_attempt: 2 ** 31 - 1 })).toMatchObject({ runNumber: 2 ** 31 - 1, runAttempt: 2 ** 31 - 1 });
    expect(normalizeJob({ run_attempt: 2 ** 31 })).toMatchObject({ runAttempt: 1 });
  });
});
