import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAlertWorker } from "../../src/alerts/alert-worker.js";
import { createEmailSender } from "../../src/alerts/email-sender.js";
import { createQueueTimeAlerts } from "../../src/alerts/queue-time-alerts.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { saveAlertRules } from "../../src/db/alert-settings.js";
import { writeBatch } from "../../src/db/write-batch.js";
import { alertRulesSchema } from "../../src/domain/alert-rules.js";
import { buildRecord, jobRecord } from "../helpers/build-records.js";
import { silentLog } from "../helpers/github-app.js";
import { startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const T0 = new Date("2026-07-01T12:00:00Z");
const later = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const LABEL = "<!channel> gpu";

describe("queue-time alert", () => {
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let nextId = 1;

  /** Jobs on LABEL that started `minutesBeforeNow` before `now` and waited these many minutes each. */
  async function seed(now: Date, waits: number[]) {
    const run = buildRecord({ externalId: 500 + nextId, status: "success", createdAt: new Date(now.getTime() - 3 * 3_600_000) });
    const jobs = waits.map((wait) => {
      const started = new Date(now.getTime() - 10 * 60_000);
      return jobRecord({
        id: 10_000 + nextId++,
        runId: run.externalId,
        status: "success",
        rawStatus: "completed",
        runnerLabels: ["self-hosted", LABEL],
        queuedAt: new Date(started.getTime() - wait * 60_000),
        startedAt: started,
        completedAt: new Date(started.getTime() + 60_000),
      });
    });
    await writeBatch(db.pool, { deliveries: [], runs: [{ record: run, history: false }], jobs, now });
  }

  const alertRows = () =>
    db.pool.any(sql.type(z.object({ kind: z.string(), channel: z.string(), target: z.array(z.string()), status: z.string() }))`
      SELECT kind, channel, target, status FROM alerts ORDER BY id`);

  /** A replica's checker, its clock at `at`. */
  const checker = (at: () => Date) =>
    createQueueTimeAlerts({ pool: db.pool, log: silentLog, alerting: { email: { to: ["default@acme.dev"] }, slack: { channel: "#ci" }, now: at } });

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    await saveAlertRules(
      db.pool,
      alertRulesSchema.parse({ routes: [{ repository: "acme/*", email: ["runners@acme.dev"], slack_channel: "#ci", queue: { p95_minutes: 10 } }] }),
    );
  });
  afterAll(async () => {
    await smtp?.stop();
    await slack?.stop();
    await db?.drop();
  });

  it("refuses a threshold that is not a positive number of minutes", () => {
    expect(alertRulesSchema.safeParse({ routes: [{ repository: "*", queue: { p95_minutes: 0 } }] }).success).toBe(false);
    expect(alertRulesSchema.safeParse({ routes: [{ repository: "*", queue: { p95: 10 } }] }).success).toBe(false);
  });

  it("fires once when p95 passes the threshold, with two replicas checking at once", async () => {
    // Waits of 1, 2, 20 and 30 minutes: p95 = 20 + 0.85 × 10 = 28.5 min, 2 jobs over 10 min.
    await seed(T0, [1, 2, 20, 30]);
    const [a, b] = await Promise.all([checker(() => T0).runOnce(), checker(() => T0).runOnce()]);
    expect(a + b).toBe(1);
    expect(await alertRows()).toEqual([
      { kind: "queue_slow", channel: "email", target: ["runners@acme.dev"], status: "pending" },
      { kind: "queue_slow", channel: "slack", target: ["#ci"], status: "pending" },
    ]);
    // Still slow ten minutes later: said already within the hour.
    expect(await checker(() => later(10)).runOnce()).toBe(0);
  });

  it("sends it by email and Slack with the label set escaped", async () => {
    const email = createEmailSender({ smtpUrl: smtp.url, from: "runboard@acme.dev" });
    const worker = createAlertWorker({
      pool: db.pool,
      log: silentLog,
      email,
      slack: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl }),
      baseUrl: "http://runboard.test",
      now: () => later(11),
    });
    expect(await worker.runOnce()).toBe(2);
    email.close();
    expect(smtp.messages.map((m) => m.subject)).toEqual([
      "[Runboard] <!channel> gpu, self-hosted: p95 queue 29 min in the last hour, 2 jobs waited more than 10 min",
    ]);
    expect(smtp.messages[0]!.html).toContain("&lt;!channel&gt; gpu");
    const [posted] = slack.messages("#ci");
    expect(posted!.text).toBe("&lt;!channel&gt; gpu, self-hosted: p95 queue 29 min in the last hour, 2 jobs waited more than 10 min");
    expect(JSON.stringify(posted!.blocks)).not.toContain("<!channel>");
  });

  it("recovers once when p95 is back under the threshold", async () => {
    // Two hours on: the last hour's jobs waited 1 and 2 minutes.
    await seed(later(120), [1, 2]);
    const [a, b] = await Promise.all([checker(() => later(120)).runOnce(), checker(() => later(120)).runOnce()]);
    expect(a + b).toBe(1);
    expect(await checker(() => later(125)).runOnce()).toBe(0);
    expect((await alertRows()).map((r) => `${r.kind} ${r.channel}`)).toEqual([
      "queue_slow email",
      "queue_slow slack",
      "queue_recovered email",
      "queue_recovered slack",
    ]);
  });
});
