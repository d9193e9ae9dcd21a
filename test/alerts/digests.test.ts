import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDigests, type Digests } from "../../src/alerts/digests.js";
import { createEmailSender, type EmailSender } from "../../src/alerts/email-sender.js";
import { SLACK_LIMITS } from "../../src/alerts/render-digest.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { saveAlertRules } from "../../src/db/alert-settings.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { alertRulesSchema } from "../../src/domain/alert-rules.js";
import { digestPeriod } from "../../src/domain/digest-period.js";
import type { Status } from "../../src/domain/status.js";
import { sql } from "slonik";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { silentLog } from "../helpers/github-app.js";
import { startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import cron from "node-cron";

const minute = (m: number, s = 0) => new Date(Date.UTC(2026, 6, 1, 12, m, s));
const HOSTILE_WORKFLOW = "<!channel> *deploy* <script>alert(1)</script>";

describe("scheduled digests, two Runboard instances on one database", () => {
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let instances: Array<{ digests: Digests; email: EmailSender }>;
  let nextRun = 1;
  let clock = minute(0);

  async function seed(repository: string, repositoryId: number, createdAt: Date, status: Status, workflow = HOSTILE_WORKFLOW) {
    const record = buildRecord({ externalId: 7_000 + nextRun++, status, repository, repositoryId, workflow, createdAt });
    await writeBatch(db.pool, { deliveries: [], runs: [{ record, history: false }], jobs: [], now: createdAt });
    return record;
  }

  /** A failed job of `run` whose error was read, with `line` as its signature's line. */
  async function failedJob(run: ReturnType<typeof buildRecord>, line: string) {
    const job = jobRecord({ id: run.externalId * 10, runId: run.externalId, repositoryId: run.repositoryId, repository: run.repository, status: "failed", conclusion: "failure", completedAt: run.createdAt });
    await writeBatch(db.pool, { deliveries: [], runs: [], jobs: [job], now: run.createdAt! });
    await db.pool.query(sql.unsafe`
      INSERT INTO failure_excerpts (job_id, build_id, repository_id, status, signature_line, signature, failed_at)
      SELECT ${job.id}, build_id, ${run.repositoryId}, 'done', ${line}, 'signature of the test', ${sql.timestamp(run.createdAt!)}
      FROM build_jobs WHERE id = ${job.id}`);
  }

  /** Both instances fire the schedule at `at` and send what is due, at once. */
  async function fireAndSend(at: Date): Promise<number> {
    clock = at;
    const written = await Promise.all(instances.map((i) => i.digests.fire(at)));
    await Promise.all(instances.map((i) => i.digests.runOnce()));
    return written.reduce((a, b) => a + b, 0);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    await saveAlertRules(db.pool, alertRulesSchema.parse({ routes: [{ repository: "acme/web", email: ["web@acme.dev"], slack_channel: "#web" }] }));
    instances = [1, 2].map(() => {
      const email = createEmailSender({ smtpUrl: smtp.url, from: "runboard@acme.dev" });
      const digests = createDigests({
        pool: db.pool,
        log: silentLog,
        now: () => clock,
        schedule: { schedule: "* * * * *", timezone: "UTC" },
        baseUrl: "http://runboard.test",
        multipliers: [],
        email: { sender: email, to: ["ops@acme.dev"] },
        slack: { client: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl }), channel: "#ci" },
      });
      return { digests, email };
    });
    // acme/quiet ran an hour before: it has no runs in any period below.
    await seed("acme/quiet", 903, minute(-60), "failed");
  });
  afterAll(async () => {
    for (const i of instances ?? []) i.email.close();
    await smtp?.stop();
    await slack?.stop();
    await db?.drop();
  });

  it("sends each target exactly one digest for the minute, by email and Slack", async () => {
    await seed("acme/records", 901, minute(-1, 10), "success");
    await seed("acme/records", 901, minute(-1, 20), "success");
    await failedJob(await seed("acme/records", 901, minute(-1, 30), "failed"), "<!channel> Error: connect ECONNREFUSED <db>");
    await seed("acme/web", 902, minute(-1, 40), "success", "Build");
    expect(await fireAndSend(minute(0))).toBe(4);
    expect(smtp.messages.map((m) => (m.to as { text: string }).text).sort()).toEqual(["ops@acme.dev", "web@acme.dev"]);
    expect(slack.messages("#ci")).toHaveLength(1);
    expect(slack.messages("#web")).toHaveLength(1);
    const ops = smtp.messages.find((m) => (m.to as { text: string }).text === "ops@acme.dev")!;
    expect(ops.subject).toBe("[Runboard] Runboard digest, 2026-07-01 11:59 to 2026-07-01 12:00 UTC");
    expect(ops.text).toContain("Success rate:      66.7%");
    expect(ops.text).toContain("Most failing:");
    // The top failure signatures, each linked to its latest run, escaped like the rest.
    expect(ops.text).toMatch(/Top failures:\n- <!channel> Error: connect ECONNREFUSED <db>: 1 failed job in 1 run, acme\/records  http:\/\/runboard\.test\/builds\/\d+/);
    expect(ops.html).toContain("&lt;!channel&gt; Error: connect ECONNREFUSED &lt;db&gt;");
    expect(ops.text).not.toContain("acme/web");
    expect(ops.html).not.toContain("<script>");
    expect(ops.html).toContain("&lt;script&gt;");
  });

  it("keeps Slack's digest escaped and within Block Kit's limits", () => {
    const [message] = slack.messages("#ci");
    const blocks = message!.blocks as Array<{ type: string; text?: { text: string }; fields?: Array<{ text: string }> }>;
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const block of blocks) {
      if (block.type === "header") expect(block.text!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      if (block.type === "section" && block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      for (const field of block.fields ?? []) expect(field.text.length).toBeLessThanOrEqual(2000);
    }
    const json = JSON.stringify(blocks);
    expect(json).not.toContain("<!channel>");
    expect(json).toContain("&lt;!channel&gt; *deploy* &lt;script&gt;");
  });

  it("sends the next minute's digest only where there were runs", async () => {
    await seed("acme/records", 901, minute(0, 30), "success");
    expect(await fireAndSend(minute(1))).toBe(2);
    expect(smtp.messages).toHaveLength(3);
    expect(slack.messages("#ci")).toHaveLength(2);
    expect(slack.messages("#web")).toHaveLength(1);
    // Fired again (a third replica, a retry): nothing new.
    expect(await fireAndSend(minute(1))).toBe(0);
    expect(smtp.messages).toHaveLength(3);
  });

  it("does not send late the digest of a fire missed while every instance was down", async () => {
    // Runs in 12:01-12:02; nobody fired at 12:02. The 12:03 digest covers 12:02-12:03 only.
    await seed("acme/records", 901, minute(1, 30), "failed");
    expect(await fireAndSend(minute(3))).toBe(0);
    expect(smtp.messages).toHaveLength(3);
  });

  it("refuses a time the schedule does not fire at, and reads periods with the real cron parser", async () => {
    const weekly = cron.createTask("0 9 * * 1", () => undefined, { timezone: "Europe/Berlin" });
    const monday = new Date("2026-07-06T07:00:00Z"); // 09:00 in Berlin (summer time)
    expect(weekly.match(monday)).toBe(true);
    expect(digestPeriod(monday, (d) => weekly.match(d))).toEqual({ start: new Date("2026-06-29T07:00:00Z"), end: monday });
    await expect(instances[0]!.digests.fire(new Date(Date.UTC(2026, 6, 1, 12, 5, 30)))).resolves.toBe(0);
    const digests = createDigests({
      pool: db.pool, log: silentLog, now: () => monday, schedule: { schedule: "0 9 * * 1", timezone: "Europe/Berlin" },
      baseUrl: "http://runboard.test", multipliers: [], email: null, slack: null,
    });
    await expect(digests.fire(new Date("2026-07-06T09:00:00Z"))).rejects.toThrow(/not a fire time/);
  });
});
