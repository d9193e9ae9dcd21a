import type { Hono } from "hono";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAlertWorker, EXCERPT_WAIT_MS, type AlertWorker } from "../../src/alerts/alert-worker.js";
import { createEmailSender, type EmailSender } from "../../src/alerts/email-sender.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { createCheckRunPublisher } from "../../src/github/check-run-publisher.js";
import { createProbot, createRunboardOctokit } from "../../src/github/create-probot.js";
import { createFailureReader } from "../../src/github/failure-reader.js";
import { createGithubClients, type GithubClients } from "../../src/github/github-clients.js";
import { listBuilds } from "../../src/db/builds.js";
import { getFirstErrorLines } from "../../src/db/failure-excerpts.js";
import { renderBuildList } from "../../src/slack/render-builds.js";
import { startActionsStandIn, type ActionsStandIn } from "../helpers/actions-stand-in.js";
import { createTestServer, deliver, silentLog, testConfig } from "../helpers/github-app.js";
import { jobLog, red } from "../helpers/job-log.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const BASE_URL = "http://runboard.test";
const TOKEN = "ghs_Inst4llationT0kenPrintedByAScript99";
const CHECK_RUN_ID = 1291536064;
const START = new Date("2026-07-01T10:00:00Z");

describe("failure insight in alerts, check runs and the build page", () => {
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let standIn: ActionsStandIn;
  let email: EmailSender;
  let app: Hono;
  let github: GithubClients;
  let clock: Date;
  const now = () => clock;

  beforeEach(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    standIn = await startActionsStandIn();
    email = createEmailSender({ smtpUrl: smtp.url, from: "runboard@example.com" });
    app = await createTestServer(db.pool, {
      now,
      alerting: { email: { to: ["team@example.com"] }, slack: { channel: "#ci" }, now, sendDelayMs: 0 },
    });
    const probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, createRunboardOctokit());
    github = createGithubClients({ getProbot: () => probot, log: silentLog });
  });
  afterEach(async () => {
    email.close();
    await smtp.stop();
    await slack.stop();
    await standIn.stop();
    await db.drop();
  });

  const alertWorker = (): AlertWorker =>
    createAlertWorker({
      pool: db.pool,
      log: silentLog,
      email,
      slack: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl }),
      baseUrl: BASE_URL,
      now,
      retry: { baseDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 3 },
    });
  const reader = () =>
    createFailureReader({ pool: db.pool, github, log: silentLog, now, notReadyWaitsMs: [], retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 2 } });

  const seed = (n: number): SeedRun => ({
    id: 500 + n,
    repository: "acme/api",
    workflow: "CI",
    branch: "main",
    conclusion: "failure",
    createdAt: new Date(START.getTime() + n * 600_000),
    seconds: 120,
    actor: "mona",
    message: `Change ${n}`,
    runNumber: 40 + n,
  });
  /** When run `n` ended. */
  const endOf = (n: number) => new Date(START.getTime() + n * 600_000 + 120_000);

  /** Run `n` fails with `output` before its error line; its log and annotations are served. */
  async function fail(n: number, output: string[], options: { gone?: boolean; annotations?: any[] } = {}) {
    const job = jobPayload(seed(n), "test <unit>", 0);
    job.installation = { id: standIn.installationId, node_id: "x" };
    const run = runPayload(seed(n));
    run.installation = { id: standIn.installationId, node_id: "x" };
    standIn.logs.set(job.workflow_job.id, { body: jobLog(job.workflow_job.steps, output), gone: options.gone });
    standIn.annotations.set(CHECK_RUN_ID, options.annotations ?? []);
    expect((await deliver(app, { event: "workflow_job", payload: job })).status).toBe(200);
    expect((await deliver(app, { event: "workflow_run", payload: run })).status).toBe(200);
    return { sha: run.workflow_run.head_sha as string, runId: run.workflow_run.id as number };
  }

  const buildId = (runId: number) =>
    db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${runId}`);

  it("puts the error line and the annotation in the email, the Slack message, the check run and the build page, never the token", async () => {
    clock = new Date(endOf(1).getTime() + 3_000);
    const { sha, runId } = await fail(
      1,
      [red("FAIL src/cart.test.ts > adds a line"), `using ${TOKEN} <!channel> <b>bold</b>`, "AssertionError: expected 2 to equal 3"],
      {
        annotations: [
          { path: ".github", start_line: 1, end_line: 1, annotation_level: "failure", message: "Process completed with exit code 1.", title: "" },
          { path: "src/cart.test.ts", start_line: 17, end_line: 17, annotation_level: "failure", message: "AssertionError: expected 2 to equal 3 <!here>", title: "adds a line" },
        ],
      },
    );

    // The alert waits for the read while the run ended only moments ago...
    const alerts = alertWorker();
    await alerts.runOnce();
    expect(smtp.messages).toHaveLength(0);
    expect(slack.calls).toHaveLength(0);
    // ...and goes once it is read.
    expect(await reader().runOnce()).toBe(1);
    clock = new Date(clock.getTime() + 2_000);
    expect(await alerts.runOnce()).toBe(2);

    const mail = smtp.messages[0]!;
    const fileLink = `https://github.com/acme/api/blob/${sha}/src/cart.test.ts#L17`;
    expect(mail.text).toContain("    | AssertionError: expected 2 to equal 3");
    expect(mail.text).toContain(`  * src/cart.test.ts:17: AssertionError: expected 2 to equal 3 <!here> <${fileLink}>`);
    expect(mail.html).toContain("AssertionError: expected 2 to equal 3");
    expect(mail.html).toContain(`href="${fileLink}"`);
    expect(mail.html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(mail.html).not.toContain("<b>bold</b>");
    expect(`${mail.text} ${String(mail.html)}`).not.toContain(TOKEN);

    const posted = JSON.stringify(slack.calls[0]!.body);
    expect(posted).toContain("AssertionError: expected 2 to equal 3");
    expect(posted).toContain("src/cart.test.ts:17");
    expect(posted).toContain("&lt;!channel&gt;");
    expect(posted).toContain("&lt;!here&gt;");
    expect(posted).not.toContain("<!channel>");
    expect(posted).not.toContain("<!here>");
    expect(posted).not.toContain(TOKEN);
    const blocks = slack.calls[0]!.body.blocks as Array<{ text?: { text: string } }>;
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(blocks.every((b) => !b.text || b.text.text.length <= 3_000)).toBe(true);

    // The check run shows it too (written again once the read was done).
    const publisher = createCheckRunPublisher({ pool: db.pool, github, log: silentLog, now, baseUrl: BASE_URL, minIntervalMs: 0 });
    await publisher.runOnce();
    const written = standIn.checkRunWrites().at(-1)!;
    const summary = written.body.output.summary as string;
    expect(summary).toContain("  AssertionError: expected 2 to equal 3");
    expect(summary).toContain(`[src/cart.test.ts:17](${fileLink})`);
    expect(summary).not.toContain(TOKEN);
    expect(summary).not.toContain("<!here>");

    // The build page: the failed step open, with the excerpt and the annotation.
    const page = await (await app.request(`/builds/${await buildId(runId)}`)).text();
    expect(page).toContain("AssertionError: expected 2 to equal 3");
    expect(page).toContain(`href="${fileLink}"`);
    expect(page).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(page).not.toContain(TOKEN);
  });

  it("sends the alert on time without an excerpt when the log is gone, or when the read does not come", async () => {
    clock = new Date(endOf(1).getTime() + 1_000);
    await fail(1, ["x"], { gone: true });
    expect(await reader().runOnce()).toBe(1);
    const alerts = alertWorker();
    expect(await alerts.runOnce()).toBe(2);
    expect(smtp.messages[0]!.text).toContain("No error excerpt: the log is gone (GitHub answered 410).");

    // A second failure whose read never happens (no reader runs): it waits, then goes without.
    clock = new Date(endOf(2).getTime() + 1_000);
    await fail(2, ["y"]);
    await alerts.runOnce();
    expect(slack.calls).toHaveLength(1);
    clock = new Date(endOf(2).getTime() + EXCERPT_WAIT_MS);
    expect(await alerts.runOnce()).toBe(1);
    expect(slack.calls).toHaveLength(2);
    expect(slack.calls[1]!.body.text).toContain("Still failing");
  });

  it("says the error was seen before when the next run fails the same way, numbers and paths aside", async () => {
    clock = new Date(endOf(1).getTime() + 30_000);
    await fail(1, ["Error: connect ECONNREFUSED 10.0.3.7:5432 (pool /home/runner/work/api/db.ts:12)"]);
    await reader().runOnce();
    const alerts = alertWorker();
    await alerts.runOnce();
    clock = new Date(endOf(2).getTime() + 30_000);
    const { runId } = await fail(2, ["Error: connect ECONNREFUSED 10.0.9.1:6543 (pool /tmp/run-7/db.ts:97)"]);
    await reader().runOnce();
    expect(await alerts.runOnce()).toBe(1);

    const reply = JSON.stringify(slack.calls.at(-1)!.body.blocks);
    expect(reply).toContain("Same error as 1 other run on main since today (first: #41)");
    const page = await (await app.request(`/builds/${await buildId(runId)}`)).text();
    expect(page).toContain("Same error as 1 other run on main since today (first: #41)");

    // `/builds failed`: the first error line of each.
    const { builds } = await listBuilds(db.pool, { status: "failed" }, { limit: 10, offset: 0 });
    const answer = renderBuildList(builds, { title: "Recent failed builds", baseUrl: BASE_URL, dashboardPath: "/builds", errorLines: await getFirstErrorLines(db.pool, builds.map((b) => b.id)) });
    const text = JSON.stringify(answer.blocks);
    expect(text).toContain("`Error: connect ECONNREFUSED 10.0.9.1:6543 (pool /tmp/run-7/db.ts:97)`");
    expect(text).toContain("`Error: connect ECONNREFUSED 10.0.3.7:5432 (pool /home/runner/work/api/db.ts:12)`");

    // The top signatures of the window: both failures under one, the latest run linked.
    const top = (await (await app.request("/api/failures?days=14")).json()) as { failures: Array<Record<string, unknown>> };
    expect(top.failures).toHaveLength(1);
    expect(top.failures[0]).toMatchObject({
      failures: 2,
      runs: 2,
      branches: ["main"],
      error_line: "Error: connect ECONNREFUSED 10.0.9.1:6543 (pool /tmp/run-7/db.ts:97)",
      latest_build_id: await buildId(runId),
    });
    // The workflow page lists it too, linked to the latest run.
    const [name] = top.failures[0]!.workflows as string[];
    const workflow = await (await app.request(`/workflows?${new URLSearchParams({ repository: "acme/api", workflow: name! })}`)).text();
    expect(workflow).toContain(`<a href="/builds/${await buildId(runId)}"><code>Error: connect ECONNREFUSED 10.0.9.1:6543 (pool /tmp/run-7/db.ts:97)</code></a>`);
  });
});
