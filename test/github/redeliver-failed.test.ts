import { randomUUID } from "node:crypto";
import type { Probot } from "probot";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createProbot } from "../../src/github/create-probot.js";
import { createGithubClients, type GithubClients } from "../../src/github/github-clients.js";
import { nextCursor } from "../../src/github/read-delivery-log.js";
import { createFailedDeliveryRedeliverer } from "../../src/github/redeliver-failed.js";
import { createTestServer, deliver, silentLog, testConfig, TestOctokit } from "../helpers/github-app.js";
import { never, startGithubStandIn, type GithubAnswer, type GithubCall, type GithubStandIn } from "../helpers/github-stand-in.js";
import { runPayload } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-08-10T12:00:00Z");
const MINUTE = 60_000;

interface LogEntry {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  duration: number;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository_id: number | null;
}

/**
 * The app's webhook delivery log, stood in as GitHub serves it: newest first, `per_page` entries
 * a page (at most 100), the next page named by a `cursor` in the Link header. A redelivery
 * GitHub accepts (202) appears as a new entry with the same guid and `redelivery: true`,
 * answered by Runboard with `redeliveryStatus`.
 */
class FakeDeliveryLog {
  entries: LogEntry[] = [];
  private nextId = 70_000_000_001;
  listed: Array<{ perPage: number; cursor: string | null }> = [];
  /** Delivery ids of every redelivery request, in order. */
  requested: number[] = [];
  redeliveryStatus = 500;
  /** A redelivery request's answer other than GitHub's 202, if any. */
  refuse: (entry: LogEntry) => GithubAnswer | Promise<GithubAnswer> | null = () => null;
  /** Holds listing requests until it settles (to make two replicas read the same page). */
  gate: Promise<void> | null = null;

  constructor(
    private readonly apiUrl: () => string,
    private readonly clock: () => Date,
  ) {}

  add(entry: { guid?: string; event: string; action?: string | null; statusCode: number; minutesAgo: number; redelivery?: boolean }): LogEntry {
    const logged: LogEntry = {
      id: this.nextId++,
      guid: entry.guid ?? randomUUID(),
      delivered_at: new Date(this.clock().getTime() - entry.minutesAgo * MINUTE).toISOString(),
      redelivery: entry.redelivery ?? false,
      duration: 0.2,
      status: entry.statusCode >= 200 && entry.statusCode < 300 ? "OK" : "Invalid HTTP Response: " + entry.statusCode,
      status_code: entry.statusCode,
      event: entry.event,
      action: entry.action ?? "completed",
      installation_id: 42,
      repository_id: 7,
    };
    this.entries.push(logged);
    return logged;
  }

  handle = async (call: GithubCall): Promise<GithubAnswer> => {
    const url = new URL(call.path, "http://stand-in");
    if (call.method === "GET" && url.pathname === "/app/hook/deliveries") {
      if (this.gate) await this.gate;
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const cursor = url.searchParams.get("cursor");
      if (perPage > 100 || (cursor !== null && !/^v1_\d+$/.test(cursor))) return { status: 422, body: { message: "Validation Failed" } };
      this.listed.push({ perPage, cursor });
      const newestFirst = [...this.entries].sort((a, b) => b.id - a.id);
      const from = cursor ? newestFirst.findIndex((e) => e.id <= Number(cursor.slice(3))) : 0;
      const page = from < 0 ? [] : newestFirst.slice(from, from + perPage);
      const next = from < 0 ? undefined : newestFirst[from + perPage];
      const base = `${this.apiUrl()}/app/hook/deliveries?per_page=${perPage}`;
      const links = [`<${base}>; rel="first"`];
      if (next) links.unshift(`<${base}&cursor=v1_${next.id}>; rel="next"`);
      return { status: 200, body: page, headers: { link: links.join(", ") } };
    }
    const attempt = /^\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(url.pathname);
    if (call.method === "POST" && attempt) {
      const id = Number(attempt[1]);
      this.requested.push(id);
      const entry = this.entries.find((e) => e.id === id);
      if (!entry) return { status: 404, body: { message: "Not Found" } };
      const refused = await this.refuse(entry);
      if (refused) return refused;
      this.add({ guid: entry.guid, event: entry.event, action: entry.action, statusCode: this.redeliveryStatus, minutesAgo: 0, redelivery: true });
      return { status: 202, body: {} };
    }
    return { status: 404, body: { message: "Not Found" } };
  };
}

const redeliveryRow = z.object({
  guid: z.string(),
  delivery_id: z.number(),
  event: z.string(),
  outcome: z.string(),
  status_code: z.number().nullable(),
  attempts: z.number(),
  requested_at: z.date().nullable(),
  retry_after: z.date().nullable(),
  lease_token: z.string().nullable(),
});

describe("redelivering deliveries GitHub records as failed", () => {
  let db: TestDatabase;
  let standIn: GithubStandIn;
  let probot: Probot;
  let github: GithubClients;
  let clock: Date;
  let log: FakeDeliveryLog;

  beforeEach(async () => {
    clock = NOW;
    db = await createTestDatabase();
    standIn = await startGithubStandIn();
    log = new FakeDeliveryLog(() => standIn.apiUrl, () => clock);
    standIn.handle(log.handle);
    probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, TestOctokit);
    github = createGithubClients({ getProbot: () => probot, log: silentLog });
  });
  afterEach(async () => {
    await standIn.stop();
    await db.drop();
  });

  const redeliverer = (options: { maxRedeliveries?: number; maxPages?: number; perPage?: number } = {}) =>
    createFailedDeliveryRedeliverer({ pool: db.pool, github, log: silentLog, now: () => clock, ...options });
  const rows = () =>
    db.pool.any(sql.type(redeliveryRow)`
      SELECT guid, delivery_id, event, outcome, status_code, attempts, requested_at, retry_after, lease_token::text
      FROM redeliveries ORDER BY delivery_id`);
  const later = (minutes: number) => {
    clock = new Date(clock.getTime() + minutes * MINUTE);
  };
  /** Listing requests wait until `count` of them arrived: replicas read the same page at once. */
  const gateListings = (count: number) => {
    const before = standIn.calls.filter((c) => c.method === "GET").length;
    log.gate = standIn.waitFor((c) => c.method === "GET", before + count);
  };

  it("redelivers a failed workflow_run once, whether passes run together on two replicas or one after the other", async () => {
    const failed = log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 10 });
    // Not an event Runboard records.
    log.add({ event: "push", action: null, statusCode: 500, minutesAgo: 9 });
    const replicas = [redeliverer(), redeliverer()];

    gateListings(2);
    const first = await Promise.all(replicas.map((r) => r.runOnce()));
    expect(log.requested).toEqual([failed.id]);
    expect(first.map((r) => r.seen)).toEqual([2, 2]);
    expect(first.reduce((n, r) => n + r.redelivered, 0)).toBe(1);
    expect(await rows()).toMatchObject([{ guid: failed.guid, delivery_id: failed.id, event: "workflow_run", outcome: "requested", status_code: 202, attempts: 1, lease_token: null }]);

    // Runboard failed the redelivery too: GitHub's log has a new failed attempt of the guid,
    // which the next passes read. It is not asked for again, by either replica.
    expect(log.entries.filter((e) => e.guid === failed.guid).map((e) => [e.redelivery, e.status_code])).toEqual([
      [false, 500],
      [true, 500],
    ]);
    later(5);
    gateListings(2);
    const second = await Promise.all(replicas.map((r) => r.runOnce()));
    expect(second).toEqual([{ seen: 1, redelivered: 0 }, { seen: 1, redelivered: 0 }]);
    log.gate = null;
    later(60);
    expect(await replicas[0]!.runOnce()).toEqual({ seen: 0, redelivered: 0 });
    expect(log.requested).toEqual([failed.id]);
    expect((await rows()).map((r) => r.outcome)).toEqual(["requested"]);
  });

  it("does not redeliver a guid with a successful attempt, before or after its failed ones", async () => {
    const guid = randomUUID();
    log.add({ guid, event: "workflow_job", statusCode: 502, minutesAgo: 30 });
    const redelivered = log.add({ guid, event: "workflow_job", statusCode: 200, minutesAgo: 20, redelivery: true });
    // Delivered the first time; someone redelivered it from the app's settings since, and that failed.
    const deliveredFirst = randomUUID();
    log.add({ guid: deliveredFirst, event: "workflow_run", statusCode: 200, minutesAgo: 28 });
    log.add({ guid: deliveredFirst, event: "workflow_run", statusCode: 500, minutesAgo: 18, redelivery: true });

    expect(await redeliverer().runOnce()).toEqual({ seen: 4, redelivered: 0 });
    expect(log.requested).toEqual([]);
    expect(await rows()).toMatchObject([{ guid, delivery_id: redelivered.id, outcome: "delivered", requested_at: null }]);
  });

  it("remembers a successful redelivery read on one pass when the failed attempt is read on a later one", async () => {
    const guid = randomUUID();
    const original = log.add({ guid, event: "workflow_run", statusCode: 500, minutesAgo: 30 });
    log.add({ event: "workflow_run", statusCode: 200, minutesAgo: 25 });
    log.add({ guid, event: "workflow_run", statusCode: 200, minutesAgo: 20, redelivery: true });
    const onePageAtATime = redeliverer({ perPage: 1, maxPages: 1 });

    for (let pass = 0; pass < 3; pass++) expect(await onePageAtATime.runOnce()).toEqual({ seen: 1, redelivered: 0 });
    expect(log.listed.map((l) => l.cursor)).toEqual([null, `v1_${original.id + 1}`, `v1_${original.id}`]);
    expect(log.requested).toEqual([]);

    // The walk is over: the next pass starts from the newest entry and stops at the old ones.
    expect(await onePageAtATime.runOnce()).toEqual({ seen: 0, redelivered: 0 });
    expect(log.listed.at(-1)).toEqual({ perPage: 1, cursor: null });
  });

  it("does not redeliver a delivery Runboard stored though GitHub recorded it as failed", async () => {
    const app = await createTestServer(db.pool, { now: () => clock });
    const stored = randomUUID();
    const payload = runPayload({ id: 9001, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: new Date(NOW.getTime() - 20 * MINUTE), seconds: 60, actor: "mona", message: "m" });
    // Answered after GitHub stopped waiting: GitHub logs a failure, Runboard has the event.
    expect((await deliver(app, { event: "workflow_run", payload, id: stored })).status).toBe(200);
    log.add({ guid: stored, event: "workflow_run", statusCode: 504, minutesAgo: 15 });
    const lost = log.add({ event: "workflow_run", statusCode: 503, minutesAgo: 14 });

    expect(await redeliverer().runOnce()).toEqual({ seen: 2, redelivered: 1 });
    expect(log.requested).toEqual([lost.id]);
    expect((await rows()).map((r) => r.guid)).toEqual([lost.guid]);
  });

  it("reads no further than GitHub's redelivery window, and later only down to where it stopped", async () => {
    log.redeliveryStatus = 200;
    const DAY = 24 * 60;
    const lost = log.add({ event: "workflow_job", statusCode: 500, minutesAgo: 2 * DAY });
    log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 6 * DAY });
    log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 5 * DAY });
    log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 4 * DAY });
    log.entries.sort((a, b) => Date.parse(a.delivered_at) - Date.parse(b.delivered_at)).forEach((e, i) => (e.id = 100 + i));
    log.add({ event: "workflow_run", statusCode: 200, minutesAgo: 60 });
    log.add({ event: "workflow_job", statusCode: 200, minutesAgo: 20 });
    log.add({ event: "workflow_job", statusCode: 200, minutesAgo: 10 });
    // Newest first, two a page: [10 min, 20 min] [60 min, 2 days] [4 days, 5 days] [6 days].
    const pass = redeliverer({ perPage: 2 });

    expect(await pass.runOnce()).toEqual({ seen: 4, redelivered: 1 });
    expect(log.listed).toHaveLength(3);
    expect(log.requested).toEqual([lost.id]);

    later(10);
    const fresh = log.add({ event: "installation", action: "created", statusCode: 500, minutesAgo: 5 });
    log.listed = [];
    // Its newest page holds the new failure and the redelivery of `lost`; the next, the entry
    // the first pass started at, where this one stops.
    expect(await pass.runOnce()).toEqual({ seen: 2, redelivered: 1 });
    expect(log.listed).toHaveLength(2);
    expect(log.requested).toEqual([lost.id, fresh.id]);
    expect((await rows()).map((r) => [r.guid, r.outcome])).toEqual([
      [lost.guid, "delivered"],
      [fresh.guid, "requested"],
    ]);
  });

  it("leaves a failure of the last minute for a later pass: Runboard may be storing it still", async () => {
    const failed = log.add({ event: "workflow_job", statusCode: 502, minutesAgo: 0.25 });
    expect(await redeliverer().runOnce()).toEqual({ seen: 0, redelivered: 0 });
    later(1);
    expect(await redeliverer().runOnce()).toEqual({ seen: 1, redelivered: 1 });
    expect(log.requested).toEqual([failed.id]);
  });

  it("records a refusal (422) and never asks again", async () => {
    const tooOld = log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 30 });
    log.refuse = () => ({ status: 422, body: { message: "Validation Failed", errors: ["delivery too old"] } });

    expect(await redeliverer().runOnce()).toEqual({ seen: 1, redelivered: 0 });
    expect(await rows()).toMatchObject([{ guid: tooOld.guid, outcome: "refused", status_code: 422, attempts: 1, retry_after: null, lease_token: null }]);

    log.refuse = () => null;
    for (const minutes of [15, 24 * 60]) {
      later(minutes);
      await redeliverer().runOnce();
    }
    expect(log.requested).toEqual([tooOld.id]);
  });

  it("asks again after an error from GitHub, once the wait is over and not before", async () => {
    const failed = log.add({ event: "workflow_job", statusCode: 500, minutesAgo: 30 });
    let answers = 0;
    log.refuse = () => (answers++ === 0 ? { status: 502, body: { message: "Server Error" } } : null);

    expect(await redeliverer().runOnce()).toEqual({ seen: 1, redelivered: 0 });
    const [errored] = await rows();
    expect(errored).toMatchObject({ outcome: "error", status_code: 502, attempts: 1, lease_token: null });
    expect(errored!.retry_after).toEqual(new Date(NOW.getTime() + 10 * MINUTE));

    later(5);
    await redeliverer().runOnce();
    expect(log.requested).toEqual([failed.id]);

    later(6);
    expect(await redeliverer().runOnce()).toEqual({ seen: 0, redelivered: 1 });
    expect(log.requested).toEqual([failed.id, failed.id]);
    expect(await rows()).toMatchObject([{ outcome: "requested", status_code: 202, attempts: 2 }]);
  });

  it("gives a request GitHub never answers up at its deadline, and asks again later", async () => {
    probot = createProbot({ ...testConfig().github!, apiBaseUrl: standIn.apiUrl }, silentLog, TestOctokit, 300);
    const failed = log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 30 });
    log.refuse = never;

    expect(await redeliverer().runOnce()).toEqual({ seen: 1, redelivered: 0 });
    expect(await rows()).toMatchObject([{ outcome: "error", attempts: 1, lease_token: null, retry_after: new Date(NOW.getTime() + 10 * MINUTE) }]);

    log.refuse = () => null;
    later(10);
    expect(await redeliverer().runOnce()).toEqual({ seen: 0, redelivered: 1 });
    expect(log.requested).toEqual([failed.id, failed.id]);
  });

  it("makes at most maxRedeliveries requests a pass and queues the rest, oldest first", async () => {
    const oldest = log.add({ event: "installation", action: "created", statusCode: 500, minutesAgo: 40 });
    const middle = log.add({ event: "workflow_run", statusCode: 500, minutesAgo: 30 });
    const newest = log.add({ event: "workflow_job", statusCode: 500, minutesAgo: 20 });
    const pass = redeliverer({ maxRedeliveries: 2 });

    expect(await pass.runOnce()).toEqual({ seen: 3, redelivered: 2 });
    expect(log.requested).toEqual([oldest.id, middle.id]);
    expect((await rows()).map((r) => [r.guid, r.outcome, r.attempts])).toEqual([
      [oldest.guid, "requested", 1],
      [middle.guid, "requested", 1],
      [newest.guid, "pending", 0],
    ]);

    later(2);
    expect((await pass.runOnce()).redelivered).toBe(1);
    expect(log.requested).toEqual([oldest.id, middle.id, newest.id]);
  });
});

describe("nextCursor", () => {
  it("reads the cursor of the rel=next link, and null on the last page", () => {
    expect(
      nextCursor('<https://api.github.com/app/hook/deliveries?per_page=2>; rel="first", <https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_123>; rel="next"'),
    ).toBe("v1_123");
    expect(nextCursor('<https://api.github.com/app/hook/deliveries?per_page=2>; rel="first"')).toBeNull();
    expect(nextCursor(undefined)).toBeNull();
  });
});
