import { createHmac } from "node:crypto";
import http, { type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import nock from "nock";
import pg from "pg";
import { sql } from "slonik";
import { z } from "zod";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PERCENTILE_ERROR } from "../../src/domain/duration-histogram.js";
import { createSlackClient } from "../../src/alerts/slack-client.js";
import { getAlertRules, saveAlertRules } from "../../src/db/alert-settings.js";
import { consumeLinkCode, createLinkCode } from "../../src/db/slack-links.js";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { startSlackStandIn, type SlackCall, type SlackStandIn } from "../helpers/slack-stand-in.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const SIGNING_SECRET = "slack-signing-secret-5e1f";
const API = "https://api.github.com";
const INSTALLATION = 4242;
const TEAM = "T0TEAM";

const HOUR = 3_600_000;
const now = new Date();
const ago = (hours: number) => new Date(now.getTime() - hours * HOUR);
const seeds: SeedRun[] = [
  { id: 9001, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: ago(30), seconds: 100, actor: "mona", message: "Add <!channel> retry" },
  { id: 9002, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "failure", createdAt: ago(20), seconds: 300, actor: "mona", message: "Break the build" },
  { id: 9003, repository: "acme/api", workflow: "CI", branch: "feature/x", conclusion: "success", createdAt: ago(10), seconds: 200, actor: "hubot", message: "Feature work" },
  { id: 9004, repository: "acme/web", workflow: "Deploy", branch: "main", conclusion: "failure", createdAt: ago(5), seconds: 400, actor: "octocat", message: "Deploy it" },
  { id: 9005, repository: "acme/web", workflow: "Deploy", branch: "main", conclusion: "success", createdAt: ago(4), seconds: 500, actor: "octocat", message: "Deploy again" },
  { id: 9006, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: ago(24 * 20), seconds: 50, actor: "mona", message: "Old" },
];

function withInstallation(payload: Record<string, any>) {
  return { ...payload, installation: { id: INSTALLATION, node_id: "x" } };
}

/**
 * Slack's v0 signature as Slack's documentation gives it, written here rather than taken from
 * the code under test: HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret, in hex.
 */
function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** Serves a Hono app on a real loopback port, as start() does; returns its address. */
async function serve(app: Hono): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = http.createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Signs and POSTs a body to the running server's /slack/events as Slack does. */
async function postToSlackEvents(
  serverUrl: string,
  body: string,
  options: { contentType?: string; timestamp?: number; secret?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return fetch(`${serverUrl}/slack/events`, {
    method: "POST",
    headers: {
      "content-type": options.contentType ?? "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": slackSignature(options.secret ?? SIGNING_SECRET, timestamp, body),
      ...options.headers,
    },
    body,
  });
}

describe("Slack bot on /slack/events", () => {
  let db: TestDatabase;
  let app: Hono;
  let server: { url: string; close: () => Promise<void> };
  let slack: SlackStandIn;
  let responses = 0;
  const responseUrl = () => `${slack.apiUrl}response/${++responses}`;

  const command = (text: string, extra: Record<string, string> = {}) => {
    const url = responseUrl();
    const body = new URLSearchParams({
      command: "/builds",
      text,
      team_id: TEAM,
      user_id: "U0ASKER",
      user_name: "asker",
      channel_id: "C0GENERAL",
      channel_name: "general",
      response_url: url,
      trigger_id: "1.2.3",
      api_app_id: "A0APP",
      token: "legacy",
      ...extra,
    }).toString();
    return { body, responsePath: url.slice(slack.apiUrl.length) };
  };

  const press = (actionId: string, value: string, user = "U0PRESSER") => {
    const url = responseUrl();
    const payload = {
      type: "block_actions",
      team: { id: TEAM, domain: "acme" },
      user: { id: user, username: "presser", team_id: TEAM },
      api_app_id: "A0APP",
      token: "legacy",
      trigger_id: "1.2.3",
      container: { type: "message", message_ts: "1700000000.000100", channel_id: "C0ALERTS", is_ephemeral: false },
      channel: { id: "C0ALERTS", name: "alerts" },
      message: { type: "message", ts: "1700000000.000100", text: "CI broken" },
      response_url: url,
      actions: [{ type: "button", action_id: actionId, block_id: "b1", value, action_ts: `${Date.now() / 1000}`, text: { type: "plain_text", text: "x" } }],
    };
    return { body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), responsePath: url.slice(slack.apiUrl.length) };
  };

  /** The answer Slack received at response_url, once it arrives. */
  async function answerAt(path: string, timeoutMs = 5_000): Promise<SlackCall> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      const call = slack.calls.find((c) => c.method === path);
      if (call) return call;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no answer at ${path}`);
  }
  /** The buttons of an answer's actions blocks. */
  const actionButtons = (call: SlackCall): unknown[] => call.body.blocks.flatMap((b: any) => (b.type === "actions" ? b.elements : []));
  const blocksText = (call: SlackCall) => JSON.stringify(call.body.blocks ?? call.body.text);
  const buildId = async (externalId: number) =>
    db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${externalId}`);

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    db = await createTestDatabase();
    slack = await startSlackStandIn();
    app = await createTestServer(db.pool, {
      slackBot: {
        signingSecret: SIGNING_SECRET,
        botToken: "xoxb-test",
        alertChannel: "#ci-alerts",
        apiUrl: slack.apiUrl,
        slack: createSlackClient({ token: "xoxb-test", apiUrl: slack.apiUrl }),
      },
    });
    for (const seed of seeds) {
      expect((await deliver(app, { event: "workflow_run", payload: withInstallation(runPayload(seed)) })).status).toBe(200);
    }
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    nock.enableNetConnect();
    await slack.stop();
    await db.drop();
  });
  beforeEach(() => {
    slack.calls.length = 0;
  });
  afterEach(() => {
    nock.cleanAll();
  });

  describe("/builds", () => {
    it("lists recent builds of every repository when no rule names the channel, newest first, escaped", async () => {
      const { body, responsePath } = command("");
      const response = await postToSlackEvents(server.url, body);
      expect(response.status).toBe(200);
      const answer = await answerAt(responsePath);
      const text = blocksText(answer);
      expect(answer.body.response_type).toBe("ephemeral");
      expect(text.indexOf("acme/web · Deploy")).toBeLessThan(text.indexOf("acme/api · CI on feature/x"));
      expect(text).toContain("Add &lt;!channel&gt; retry");
      expect(text).not.toContain("<!channel>");
      expect(text).toContain(`http://runboard.test/builds/${await buildId(9002)}`);
    });

    it("answers owner/repo and owner/repo branch from that repository only", async () => {
      const repo = command("acme/web");
      await postToSlackEvents(server.url, repo.body);
      const repoAnswer = await answerAt(repo.responsePath);
      const repoText = blocksText(repoAnswer);
      expect(repoText).toContain("acme/web · Deploy");
      expect(repoText).not.toContain("acme/api");
      const buttons = actionButtons(repoAnswer);
      expect(buttons).toContainEqual(
        expect.objectContaining({ action_id: "open_dashboard", text: expect.objectContaining({ text: "Open in dashboard" }), url: "http://runboard.test/builds?repository=acme%2Fweb" }),
      );

      const branch = command("acme/api feature/x");
      await postToSlackEvents(server.url, branch.body);
      const branchText = blocksText(await answerAt(branch.responsePath));
      expect(branchText).toContain("Feature work");
      expect(branchText).not.toContain("Break the build");
      expect(branchText).toContain("/builds?repository=acme%2Fapi&branch=feature%2Fx");
    });

    it("answers failed with failures only, each with a re-run button", async () => {
      const { body, responsePath } = command("failed");
      await postToSlackEvents(server.url, body);
      const answer = await answerAt(responsePath);
      const text = blocksText(answer);
      expect(text).toContain("Break the build");
      expect(text).toContain("Deploy it");
      expect(text).not.toContain("Feature work");
      const buttons = answer.body.blocks.filter((b: any) => b.accessory?.action_id === "rerun_failed_jobs");
      expect(buttons.map((b: any) => Number(b.accessory.value)).sort()).toEqual([await buildId(9002), await buildId(9004)].sort());
    });

    it("answers stats with success rate, p50/p95 and the window", async () => {
      const { body, responsePath } = command("stats acme/api 7d");
      await postToSlackEvents(server.url, body);
      const text = blocksText(await answerAt(responsePath));
      // Last 7 days of acme/api: 9001 (100 s, ok), 9002 (300 s, failed), 9003 (200 s, ok); 9006 is older.
      expect(text).toContain("Stats for acme/api, last 7d");
      expect(text).toContain("66.7% (2 ok, 1 failed)");
      // Percentiles from duration buckets, within PERCENTILE_ERROR of the exact 200 s and 290 s.
      const seconds = (label: string) => {
        const [, m, s] = text.match(new RegExp(`\\*${label} duration\\*\\\\n(\\d+)m (\\d+)s`))!;
        return Number(m) * 60 + Number(s);
      };
      expect(Math.abs(seconds("p50") - 200)).toBeLessThanOrEqual(200 * PERCENTILE_ERROR + 1);
      expect(Math.abs(seconds("p95") - 290)).toBeLessThanOrEqual(290 * PERCENTILE_ERROR + 1);
      expect(text).toContain("*Queue time p50 / p95*");
      expect(text).toContain("*Estimated minutes*");
    });

    it("answers digest with the digest of the channel's repositories", async () => {
      const { body, responsePath } = command("digest 7d");
      await postToSlackEvents(server.url, body);
      const answer = await answerAt(responsePath);
      expect(answer.body.blocks[0]).toMatchObject({ type: "header", text: { type: "plain_text" } });
      const text = blocksText(answer);
      expect(text).toContain("*Success rate*");
      expect(text).toContain("*Queue time p95*");
      expect(text).toContain("acme/api");
    });

    it("names the flakiest workflows in stats: green only after a failure of the same commit", async () => {
      // acme/flaky: one commit fails, then passes without a change; another commit passes at once.
      const flaky = [
        { id: 9101, conclusion: "failure" as const, createdAt: ago(3), sha: "f1" },
        { id: 9102, conclusion: "success" as const, createdAt: ago(2), sha: "f1" },
        { id: 9103, conclusion: "success" as const, createdAt: ago(1), sha: "f2" },
      ];
      try {
        for (const run of flaky) {
          const payload = runPayload({ id: run.id, repository: "acme/flaky", workflow: "E2E", branch: "main", conclusion: run.conclusion, createdAt: run.createdAt, seconds: 60, actor: "mona", message: "m" });
          payload.workflow_run.head_sha = run.sha.padEnd(40, "0");
          expect((await deliver(app, { event: "workflow_run", payload: withInstallation(payload) })).status).toBe(200);
        }
        const { body, responsePath } = command("stats acme/flaky");
        await postToSlackEvents(server.url, body);
        const answer = await answerAt(responsePath);
        const text = blocksText(answer);
        expect(text).toContain("*Flakiest workflows*");
        // Decided runs: 9101 failed, 9102 and 9103 passed; 9102 is the flaky one.
        expect(text).toContain("acme/flaky · E2E: 33.3% flaky (1 of 3 runs)");
        const buttons = actionButtons(answer);
        expect(buttons).toContainEqual(expect.objectContaining({ action_id: "open_dashboard", url: "http://runboard.test/builds?repository=acme%2Fflaky" }));

        const none = command("stats acme/web");
        await postToSlackEvents(server.url, none.body);
        expect(blocksText(await answerAt(none.responsePath))).toContain("No flaky runs in this window.");
      } finally {
        await db.pool.query(sql.unsafe`DELETE FROM builds WHERE repository = 'acme/flaky'`);
      }
    });

    it("answers link with a one-time link to the dashboard's link page, for the asker alone", async () => {
      const codes = () => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM slack_link_codes`);
      const before = await codes();
      const { body, responsePath } = command("link", { user_id: "U0LINKER" });
      await postToSlackEvents(server.url, body);
      const answer = await answerAt(responsePath);
      expect(answer.body.response_type).toBe("ephemeral");
      const link = /http:\/\/runboard\.test\/slack\/link\/([A-Za-z0-9_-]+)/.exec(blocksText(answer));
      expect(link).not.toBeNull();
      expect(await codes()).toBe(before + 1);
      // The code in the link is the one stored for this Slack user: consuming it links U0LINKER.
      expect(await consumeLinkCode(db.pool, link![1]!, { githubUserId: 77, login: "linker" }, new Date())).toMatchObject({ slack_user_id: "U0LINKER", github_login: "linker" });
    });

    it("answers help and refuses words it does not know", async () => {
      const help = command("help");
      await postToSlackEvents(server.url, help.body);
      expect(blocksText(await answerAt(help.responsePath))).toContain("/builds stats [owner/repo] [7d]");
      const bad = command("acme/api main <@U0OTHER>");
      await postToSlackEvents(server.url, bad.body);
      const text = blocksText(await answerAt(bad.responsePath));
      expect(text).toContain("I did not understand `&lt;@U0OTHER&gt;`");
    });

    it("shows the channel's repositories when a routing rule names it", async () => {
      await saveAlertRules(db.pool, { branches: [], workflows: [], mutes: [], routes: [{ repository: "acme/web", slack_channel: "#web-team" }] });
      try {
        const { body, responsePath } = command("", { channel_id: "C0WEB", channel_name: "web-team" });
        await postToSlackEvents(server.url, body);
        const text = blocksText(await answerAt(responsePath));
        expect(text).toContain("this channel's repositories");
        expect(text).toContain("acme/web");
        expect(text).not.toContain("acme/api");
        // SLACK_ALERT_CHANNEL carries every repository no route claims.
        const alerts = command("", { channel_id: "C0ALERTS", channel_name: "ci-alerts" });
        await postToSlackEvents(server.url, alerts.body);
        const alertsText = blocksText(await answerAt(alerts.responsePath));
        expect(alertsText).toContain("acme/api");
        expect(alertsText).not.toContain("acme/web");
      } finally {
        await saveAlertRules(db.pool, { branches: [], workflows: [], mutes: [], routes: [] });
      }
    });

    it("acks a slow query at once and answers through response_url when the query ends", async () => {
      // Hold a lock on builds so the stats query really waits.
      const blocker = new pg.Client({ connectionString: db.connectionUri });
      await blocker.connect();
      await blocker.query("BEGIN; LOCK TABLE builds IN ACCESS EXCLUSIVE MODE");
      const { body, responsePath } = command("stats");
      const started = Date.now();
      let ackedAt = 0;
      let releasedAt = 0;
      try {
        const response = await postToSlackEvents(server.url, body);
        ackedAt = Date.now();
        expect(response.status).toBe(200);
        // The handler's own ack, not the receiver's fallback (which answers at 2.5 s).
        expect(ackedAt - started).toBeLessThan(1_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(slack.calls.find((c) => c.method === responsePath)).toBeUndefined();
      } finally {
        releasedAt = Date.now();
        await blocker.query("COMMIT");
        await blocker.end();
      }
      const answer = await answerAt(responsePath);
      expect(blocksText(answer)).toContain("Stats for all repositories, last 7d");
      expect(ackedAt).toBeLessThan(releasedAt);
    });
  });

  describe("signature", () => {
    const linkCodes = () => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM slack_link_codes`);

    it("refuses a bad signature with 401 and runs no handler", async () => {
      const before = await linkCodes();
      const { body } = command("link");
      const response = await postToSlackEvents(server.url, body, { secret: "not-the-secret" });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toContain("SLACK_SIGNING_SECRET");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await linkCodes()).toBe(before);
      expect(slack.calls).toEqual([]);
    });

    it("refuses a timestamp older than 5 minutes with 401 and runs no handler", async () => {
      const before = await linkCodes();
      const { body } = command("link");
      const response = await postToSlackEvents(server.url, body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
      expect(response.status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await linkCodes()).toBe(before);
      expect(slack.calls).toEqual([]);
    });

    it("refuses a body changed after signing", async () => {
      const { body } = command("help");
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await fetch(`${server.url}/slack/events`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-slack-request-timestamp": String(timestamp),
          "x-slack-signature": slackSignature(SIGNING_SECRET, String(timestamp), body),
        },
        body: body.replace("help", "link"),
      });
      expect(response.status).toBe(401);
    });

    it("answers Slack's url_verification with the challenge", async () => {
      const response = await postToSlackEvents(server.url, JSON.stringify({ type: "url_verification", challenge: "c-123", token: "t" }), {
        contentType: "application/json",
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ challenge: "c-123" });
    });

    it("answers 503 naming SLACK_SIGNING_SECRET when it is not set", async () => {
      const bare = await serve(await createTestServer(db.pool));
      try {
        const response = await postToSlackEvents(bare.url, command("help").body);
        expect(response.status).toBe(503);
        expect(await response.text()).toContain("SLACK_SIGNING_SECRET");
      } finally {
        await bare.close();
      }
    });
  });

  describe("buttons", () => {
    const token = () =>
      nock(API)
        .persist()
        .post(`/app/installations/${INSTALLATION}/access_tokens`)
        .reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z", permissions: { actions: "write" } });
    const link = async (slackUser: string, login: string, githubUserId: number) => {
      const code = await createLinkCode(db.pool, { teamId: TEAM, userId: slackUser }, new Date());
      expect(await consumeLinkCode(db.pool, code, { githubUserId, login }, new Date())).not.toBeNull();
    };

    it("re-runs failed jobs once for a linked writer, and answers in the thread with the new attempt", async () => {
      await link("U0WRITER", "mona", 1);
      token();
      let reruns = 0;
      const permission = nock(API)
        .get("/repos/acme/api/collaborators/mona/permission")
        .reply(200, { permission: "write", user: { login: "mona" } });
      // Answers as often as it is called, so a second call would be counted rather than refused.
      const rerun = nock(API)
        .persist()
        .post("/repos/acme/api/actions/runs/9002/rerun-failed-jobs")
        .reply(201, () => {
          reruns++;
          return {};
        });
      const pressed = press("rerun_failed_jobs", String(await buildId(9002)), "U0WRITER");
      const first = await postToSlackEvents(server.url, pressed.body);
      expect(first.status).toBe(200);
      const reply = await answerAt("chat.postMessage");
      expect(reply.body).toMatchObject({ channel: "C0ALERTS", thread_ts: "1700000000.000100" });
      expect(reply.body.text).toBe("Re-run of attempt 1 requested by <@U0WRITER>; attempt 2 will show here.");
      expect(permission.isDone()).toBe(true);
      expect(rerun.isDone()).toBe(true);
      expect(reruns).toBe(1);

      // Slack delivers the same press again when it thinks the answer was late.
      const retryPermission = nock(API).get("/repos/acme/api/collaborators/mona/permission").reply(200, { permission: "write" });
      const retry = await postToSlackEvents(server.url, pressed.body, { headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" } });
      expect(retry.status).toBe(200);
      const waitStarted = Date.now();
      while (!retryPermission.isDone() && Date.now() - waitStarted < 5_000) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(retryPermission.isDone()).toBe(true);
      // Time for a second call to reach GitHub, were the press not claimed already.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(reruns).toBe(1);
      expect(slack.calls.filter((c) => c.method === "chat.postMessage")).toHaveLength(1);
    });

    it("refuses an unlinked user and calls nothing on GitHub", async () => {
      const github = nock(API).post(/.*/).reply(500).get(/.*/).reply(500);
      const pressed = press("rerun_failed_jobs", String(await buildId(9002)), "U0STRANGER");
      expect((await postToSlackEvents(server.url, pressed.body)).status).toBe(200);
      const answer = await answerAt(pressed.responsePath);
      expect(answer.body).toMatchObject({ response_type: "ephemeral" });
      expect(answer.body.text).toContain("/builds link");
      expect(github.pendingMocks()).toHaveLength(2);
    });

    it("refuses a linked user without write access after asking GitHub only for the permission", async () => {
      await link("U0READER", "hubot", 2);
      token();
      const permission = nock(API).get("/repos/acme/api/collaborators/hubot/permission").reply(200, { permission: "read" });
      const rerun = nock(API).post("/repos/acme/api/actions/runs/9002/rerun-failed-jobs").reply(201, {});
      const pressed = press("rerun_failed_jobs", String(await buildId(9002)), "U0READER");
      await postToSlackEvents(server.url, pressed.body);
      const answer = await answerAt(pressed.responsePath);
      expect(answer.body.text).toContain("cannot re-run jobs in acme/api");
      expect(permission.isDone()).toBe(true);
      expect(rerun.isDone()).toBe(false);
    });

    it("mutes the workflow for 1d and says so in the thread", async () => {
      const pressedAt = Date.now();
      const pressed = press("mute_workflow_1d", String(await buildId(9004)));
      expect((await postToSlackEvents(server.url, pressed.body)).status).toBe(200);
      const reply = await answerAt("chat.postMessage");
      expect(reply.body.text).toContain("acme/web · Deploy");
      expect(reply.body.text).toContain("<@U0PRESSER>");
      const rules = await getAlertRules(db.pool);
      expect(rules.mutes).toHaveLength(1);
      expect(rules.mutes[0]).toMatchObject({ repository: "acme/web", workflow: "Deploy" });
      const until = new Date(rules.mutes[0]!.until).getTime();
      expect(until - pressedAt).toBeGreaterThanOrEqual(86_400_000 - 1_000);
      expect(until - pressedAt).toBeLessThanOrEqual(86_400_000 + 5_000);
    });
  });
});
