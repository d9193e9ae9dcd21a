import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { floorToMinute } from "../src/domain/digest-period.js";
import { start, type RunningRunboard } from "../src/start.js";
import { silentLog, testConfig, TestOctokit, WEBHOOK_SECRET } from "./helpers/github-app.js";
import { runPayload } from "./helpers/seed-builds.js";
import { startSlackStandIn, type SlackStandIn } from "./helpers/slack-stand-in.js";
import { startSmtpServer, type TestSmtpServer } from "./helpers/smtp-server.js";
import { createTestDatabase, type TestDatabase } from "./helpers/test-database.js";

/** Waits until `done()` holds (checked every 100 ms), failing after 10 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('DIGEST_SCHEDULE="* * * * *" with two Runboard processes on one database', () => {
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let replicas: RunningRunboard[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    const config = testConfig({
      DATABASE_URL: db.connectionUri,
      SMTP_URL: smtp.url,
      ALERT_EMAIL_FROM: "runboard@acme.dev",
      ALERT_EMAIL_TO: "team@acme.dev",
      SLACK_BOT_TOKEN: "xoxb-test",
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNEL: "#ci",
      DIGEST_SCHEDULE: "* * * * *",
    });
    const alertTimings = { intervalMs: 100, sendDelayMs: 0, retry: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 3 } };
    replicas = await Promise.all([1, 2].map(() => start({ config, log: silentLog, Octokit: TestOctokit, alertTimings })));
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.stop();
    await smtp?.stop();
    await slack?.stop();
    await db?.drop();
  });

  it("sends each target one digest a minute, by email and Slack, whichever processes fire", async () => {
    // Both processes' real schedules tick at every minute's start, late on a loaded machine: begin
    // away from the minute's edges, so that no real tick falls between this minute's run and the
    // fires below (it could send a digest of its own, and the test would count two).
    const second = new Date().getUTCSeconds();
    if (second < 5 || second > 50) await new Promise((resolve) => setTimeout(resolve, ((65 - second) % 60) * 1000));
    const minuteStart = floorToMinute(new Date());
    const body = JSON.stringify(
      runPayload({ id: 4242, repository: "acme/web", workflow: "<!here> CI", branch: "main", conclusion: "failure", createdAt: minuteStart, seconds: 30, actor: "mona", message: "<b>x</b>" }),
    );
    const delivered = await fetch(`${replicas[0]!.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-delivery": randomUUID(), "x-github-event": "workflow_run", "x-hub-signature-256": await sign(WEBHOOK_SECRET, body) },
      body,
    });
    expect(delivered.status).toBe(200);
    // Both processes' schedules fire at the end of this minute; the real cron expression decides it is one.
    const fireAt = new Date(minuteStart.getTime() + 60_000);
    const written = await Promise.all(replicas.map((r) => r.digests!.fire(fireAt)));
    expect(written.reduce((a, b) => a + b, 0)).toBe(2);
    await until(() => smtp.messages.length >= 1 && slack.messages("#ci").length >= 1, "the digests");
    // The next minute had no run: nothing more, though both fire again.
    const next = await Promise.all(replicas.map((r) => r.digests!.fire(new Date(fireAt.getTime() + 60_000))));
    expect(next).toEqual([0, 0]);
    await Promise.all(replicas.map((r) => r.digests!.runOnce()));
    expect(smtp.messages.map((m) => (m.to as { text: string }).text)).toEqual(["team@acme.dev"]);
    expect(smtp.messages[0]!.html).toContain("&lt;!here&gt; CI");
    const posts = slack.messages("#ci");
    expect(posts).toHaveLength(1);
    expect(JSON.stringify(posts[0]!.blocks)).not.toContain("<!here>");
  });
});
