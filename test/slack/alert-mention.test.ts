import { afterAll, beforeAll, expect, it } from "vitest";
import { createAlertWorker } from "../../src/alerts/alert-worker.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { consumeLinkCode, createLinkCode } from "../../src/db/slack-links.js";
import { createTestServer, deliver, silentLog } from "../helpers/github-app.js";
import { runPayload } from "../helpers/seed-builds.js";
import { startSlackStandIn, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

let db: TestDatabase;
let slack: SlackStandIn;
beforeAll(async () => {
  db = await createTestDatabase();
  slack = await startSlackStandIn();
});
afterAll(async () => {
  await slack.stop();
  await db.drop();
});

it("mentions the linked Slack user who triggered the broken run, and only that one", async () => {
  const now = () => new Date("2026-07-01T12:00:00Z");
  const client = createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl });
  const app = await createTestServer(db.pool, { now, alerting: { slack: { channel: "#ci" }, now, sendDelayMs: 0 } });
  const worker = createAlertWorker({ pool: db.pool, log: silentLog, email: null, slack: client, baseUrl: "http://runboard.test", now });
  const code = await createLinkCode(db.pool, { teamId: "T0TEAM", userId: "U0MONA" }, now());
  await consumeLinkCode(db.pool, code, { githubUserId: 1, login: "Mona" }, now());

  const broken = runPayload({ id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "failure", createdAt: new Date("2026-07-01T11:00:00Z"), seconds: 60, actor: "mona", message: "Break" });
  expect((await deliver(app, { event: "workflow_run", payload: broken })).status).toBe(200);
  const otherRepo = runPayload({ id: 2, repository: "acme/web", workflow: "CI", branch: "main", conclusion: "failure", createdAt: new Date("2026-07-01T11:00:00Z"), seconds: 60, actor: "hubot", message: "Break too" });
  expect((await deliver(app, { event: "workflow_run", payload: otherRepo })).status).toBe(200);
  expect(await worker.runOnce()).toBe(2);

  const messages = slack.calls.filter((c) => c.method === "chat.postMessage").map((c) => JSON.stringify(c.body.blocks));
  const byMona = messages.find((m) => m.includes("acme/api"))!;
  const byHubot = messages.find((m) => m.includes("acme/web"))!;
  expect(byMona).toContain("*Triggered by*\\nmona (<@U0MONA>)");
  expect(byHubot).toContain("*Triggered by*\\nhubot");
  expect(byHubot).not.toContain("<@");
});
