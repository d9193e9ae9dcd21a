import { createRequire } from "node:module";
import path from "node:path";
import type { Hono } from "hono";
import nock from "nock";
import { sql } from "slonik";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createProbot } from "../../src/github/create-probot.js";
import { createPoller } from "../../src/github/poller.js";
import { createIngest } from "../../src/ingest.js";
import { testGithubParts, createTestServer, deliver, silentLog, testConfig, TestOctokit } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import { upsertSyncRepository } from "../../src/db/sync-repositories.js";

const require = createRequire(import.meta.url);

/** The github.com example of an event and action from `@octokit/webhooks-examples`. */
function example(event: string, action: string): Record<string, any> {
  const root = path.dirname(require.resolve("@octokit/webhooks-examples/package.json"));
  const index = require(path.join(root, "api.github.com", "index.json")) as Array<{ name: string; examples: Array<Record<string, any>> }>;
  const found = index.find((e) => e.name === event)?.examples.find((p) => p.action === action);
  if (!found) throw new Error(`no ${event}.${action} example`);
  return structuredClone(found);
}

const installationRow = z.object({
  id: z.number(),
  account: z.string(),
  repository_selection: z.string().nullable(),
  permissions: z.record(z.string()),
  suspended_at: z.date().nullable(),
  deleted_at: z.date().nullable(),
});

const installations = (db: TestDatabase) => db.pool.any(sql.type(installationRow)`
  SELECT id, account, repository_selection, permissions, suspended_at, deleted_at FROM installations ORDER BY id`);

const syncRepositories = (db: TestDatabase) => db.pool.any(sql.type(z.object({ repository_id: z.number(), installation_id: z.number(), full_name: z.string() }))`
  SELECT repository_id, installation_id, full_name FROM sync_repositories ORDER BY repository_id`);

describe("installation events", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    await db.pool.query(sql.unsafe`TRUNCATE installations, sync_repositories, check_runs, check_run_permissions`);
  });

  it("records a new installation and its repositories, and a redelivery changes nothing", async () => {
    const created = example("installation", "created");
    expect((await deliver(app, { event: "installation", payload: created, id: "delivery-1" })).status).toBe(200);
    const afterFirst = await installations(db);
    expect(afterFirst).toEqual([
      {
        id: 957387,
        account: "Codertocat",
        repository_selection: "selected",
        permissions: expect.objectContaining({ checks: "write", metadata: "read" }),
        suspended_at: null,
        deleted_at: null,
      },
    ]);
    expect(await syncRepositories(db)).toEqual([{ repository_id: 186853002, installation_id: 957387, full_name: "Codertocat/Hello-World" }]);

    expect((await deliver(app, { event: "installation", payload: created, id: "delivery-1" })).status).toBe(200);
    expect(await installations(db)).toEqual(afterFirst);
    expect(await syncRepositories(db)).toHaveLength(1);
  });

  it("adds and removes repositories as installation_repositories says", async () => {
    await deliver(app, { event: "installation", payload: example("installation", "created") });
    expect((await deliver(app, { event: "installation_repositories", payload: example("installation_repositories", "added") })).status).toBe(200);
    expect(await syncRepositories(db)).toEqual([
      { repository_id: 186853002, installation_id: 957387, full_name: "Codertocat/Hello-World" },
      { repository_id: 186853007, installation_id: 957387, full_name: "Codertocat/Space" },
    ]);

    // The removal example belongs to installation 2 (octocat): the poller had listed its repository.
    await upsertSyncRepository(db.pool, { id: 1296269, installationId: 2, fullName: "octocat/Hello-World", defaultBranch: "main" });
    const removed = example("installation_repositories", "removed");
    expect((await deliver(app, { event: "installation_repositories", payload: removed })).status).toBe(200);
    expect((await syncRepositories(db)).map((r) => r.repository_id)).toEqual([186853002, 186853007]);
    expect((await installations(db)).find((i) => i.id === 2)).toMatchObject({ account: "octocat", deleted_at: null });
  });

  it("marks an installation suspended and active again", async () => {
    expect((await deliver(app, { event: "installation", payload: example("installation", "suspend") })).status).toBe(200);
    expect(await installations(db)).toEqual([
      expect.objectContaining({ id: 16598467, suspended_at: new Date("2021-04-29T02:32:50Z"), deleted_at: null }),
    ]);
    await deliver(app, { event: "installation", payload: example("installation", "unsuspend") });
    expect(await installations(db)).toEqual([expect.objectContaining({ id: 16598467, suspended_at: null })]);
  });

  it("keeps an uninstalled app uninstalled, whatever arrives late", async () => {
    await upsertSyncRepository(db.pool, { id: 1296269, installationId: 2, fullName: "octocat/Hello-World", defaultBranch: "main" });
    expect((await deliver(app, { event: "installation", payload: example("installation", "deleted") })).status).toBe(200);
    const [deleted] = await installations(db);
    expect(deleted).toMatchObject({ id: 2, account: "octocat" });
    expect(deleted!.deleted_at).toBeInstanceOf(Date);
    expect(await syncRepositories(db)).toEqual([]);

    // A late "added" and a late "unsuspend" for the same installation (real payloads, moved to id 2).
    const added = example("installation_repositories", "added");
    added.installation.id = 2;
    const unsuspend = example("installation", "unsuspend");
    unsuspend.installation.id = 2;
    expect((await deliver(app, { event: "installation_repositories", payload: added })).status).toBe(200);
    expect((await deliver(app, { event: "installation", payload: unsuspend })).status).toBe(200);
    expect(await syncRepositories(db)).toEqual([]);
    expect(await installations(db)).toEqual([deleted]);
  });

  it("makes check runs held back for a missing permission due when new permissions are accepted", async () => {
    const later = new Date(Date.now() + 3_600_000);
    await db.pool.query(sql.unsafe`
      INSERT INTO check_runs (repository_id, head_sha, repository, installation_id, status, next_attempt_at)
      VALUES (186853002, 'abc123', 'Codertocat/Hello-World', 957387, 'pending', ${sql.timestamp(later)})`);
    await db.pool.query(sql.unsafe`
      INSERT INTO check_run_permissions (installation_id, missing_since, retry_after) VALUES (957387, now(), ${sql.timestamp(later)})`);
    expect((await deliver(app, { event: "installation", payload: example("installation", "new_permissions_accepted") })).status).toBe(200);
    const due = await db.pool.oneFirst(sql.type(z.object({ due: z.boolean() }))`
      SELECT next_attempt_at <= now() AS due FROM check_runs WHERE head_sha = 'abc123'`);
    expect(due).toBe(true);
    expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM check_run_permissions`)).toBe(0);
    expect(await installations(db)).toEqual([expect.objectContaining({ id: 957387, repository_selection: "all" })]);
  });

  it("stores nothing from an installation event with a wrong signature", async () => {
    const response = await deliver(app, { event: "installation", payload: example("installation", "created"), secret: "not-the-secret" });
    expect(response.status).toBe(401);
    expect(await installations(db)).toEqual([]);
    expect(await syncRepositories(db)).toEqual([]);
  });
});

describe("poller and installation state", () => {
  let db: TestDatabase;

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterAll(() => nock.enableNetConnect());
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    nock.cleanAll();
    await db.drop();
  });

  it("does not poll suspended or deleted installations", async () => {
    const app = await createTestServer(db.pool);
    await deliver(app, { event: "installation", payload: example("installation", "deleted") });
    // GitHub's listing may still show a just-deleted installation; a suspended one shows suspended_at.
    const listing = nock("https://api.github.com")
      .get("/app/installations")
      .query(true)
      .reply(200, [
        { id: 2, account: { login: "octocat" }, suspended_at: null },
        { id: 16598467, account: { login: "Codertocat" }, suspended_at: "2021-04-29T02:32:50Z" },
      ]);
    const probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    const poller = createPoller({
      pool: db.pool,
      connectionUri: db.connectionUri,
      ...testGithubParts(db.pool, probot),
      log: silentLog,
      now: () => new Date(),
      intervalSeconds: 0,
      jitterSeconds: 0,
    });
    // No token or repository route is stood in: asking for either would fail the pass.
    const stats = await poller.pollOnce();
    expect(listing.isDone()).toBe(true);
    expect(stats.installations).toBe(0);
    expect(stats.requests).toBe(1);
    expect(await installations(db)).toEqual([
      expect.objectContaining({ id: 2, deleted_at: expect.any(Date) }),
      expect.objectContaining({ id: 16598467, suspended_at: new Date("2021-04-29T02:32:50Z"), deleted_at: null }),
    ]);
  });

  it("drops a repository from the poller's list once GitHub no longer lists it for the installation", async () => {
    // The "removed" event was missed: the repository is still on the list from an earlier poll.
    await upsertSyncRepository(db.pool, { id: 1296269, installationId: 2, fullName: "octocat/Hello-World", defaultBranch: "main" });
    await upsertSyncRepository(db.pool, { id: 1296270, installationId: 2, fullName: "octocat/Spoon-Knife", defaultBranch: "main" });
    const api = nock("https://api.github.com")
      .get("/app/installations")
      .query(true)
      .reply(200, [{ id: 2, account: { login: "octocat" } }])
      .post("/app/installations/2/access_tokens")
      .reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z" })
      .get("/installation/repositories")
      .query(true)
      .reply(200, { total_count: 1, repositories: [{ id: 1296270, full_name: "octocat/Spoon-Knife", default_branch: "main" }] })
      .get("/repos/octocat/Spoon-Knife/actions/runs")
      .query(true)
      .reply(200, { total_count: 0, workflow_runs: [] });
    const probot = createProbot(testConfig().github!, silentLog, TestOctokit);
    const poller = createPoller({
      pool: db.pool,
      connectionUri: db.connectionUri,
      ...testGithubParts(db.pool, probot),
      log: silentLog,
      now: () => new Date(),
      intervalSeconds: 0,
      jitterSeconds: 0,
    });
    const stats = await poller.pollOnce();
    expect(api.isDone()).toBe(true);
    expect(stats.repositories).toBe(1);
    expect(await syncRepositories(db)).toEqual([{ repository_id: 1296270, installation_id: 2, full_name: "octocat/Spoon-Knife" }]);
  });
});
