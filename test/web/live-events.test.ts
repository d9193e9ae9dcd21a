import type { Hono } from "hono";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createLiveHub, type LiveHub } from "../../src/web/live-hub.js";
import { createTestServer, deliver, silentLog } from "../helpers/github-app.js";
import { readEvents } from "../helpers/read-events.js";
import { runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

function seed(id: number, repository: string, branch = "main"): SeedRun {
  return { id, repository, workflow: "CI", branch, conclusion: "success", createdAt: new Date(Date.now() - 3_600_000), seconds: 60, actor: "mona", message: `Change ${id}` };
}

describe("live updates (/events)", () => {
  let db: TestDatabase;
  let app: Hono;
  let live: LiveHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    live = createLiveHub({ connectionUri: db.connectionUri, pool: db.pool, log: silentLog });
    app = await createTestServer(db.pool, { live });
  });
  afterAll(async () => {
    await live.close();
    await db.drop();
  });

  const deliverRun = async (run: SeedRun) => {
    expect((await deliver(app, { event: "workflow_run", payload: runPayload(run) })).status).toBe(200);
    return db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = ${run.id}`);
  };

  it("tells a page filtered to one repository of that repository's builds only", async () => {
    const events = readEvents(await app.request("/events?repository=acme%2Fweb"));
    await events.waitFor(() => events.hello());
    const other = await deliverRun(seed(7001, "acme/api"));
    const shown = await deliverRun(seed(7002, "acme/web"));
    await events.waitFor(() => events.heard().includes(shown));
    // The other repository's build changed first: had it been told, it would be heard by now.
    await deliverRun(seed(7003, "acme/web"));
    await events.waitFor(() => events.heard().length >= 2);
    await events.cancel();
    expect(events.heard()).not.toContain(other);
  });

  it("tells a build's page of that build only, and a branch filter of its branch only", async () => {
    const mine = await deliverRun(seed(7101, "acme/web", "feature/a"));
    const buildPage = readEvents(await app.request(`/events?build=${mine}`));
    const branchPage = readEvents(await app.request("/events?branch=feature%2Fa"));
    await buildPage.waitFor(() => buildPage.hello());
    await branchPage.waitFor(() => branchPage.hello());
    const sibling = await deliverRun(seed(7102, "acme/web", "feature/a"));
    const elsewhere = await deliverRun(seed(7103, "acme/web", "main"));
    await deliverRun({ ...seed(7101, "acme/web", "feature/a"), conclusion: "failure", seconds: 90 });
    await buildPage.waitFor(() => buildPage.heard().includes(mine));
    await branchPage.waitFor(() => branchPage.heard().includes(mine) && branchPage.heard().includes(sibling));
    await buildPage.cancel();
    await branchPage.cancel();
    expect(new Set(buildPage.heard())).toEqual(new Set([mine]));
    expect(branchPage.heard()).not.toContain(elsewhere);
  });

  it("gathers many changes into few messages, each naming what changed", async () => {
    const events = readEvents(await app.request("/events"));
    await events.waitFor(() => events.hello());
    const runs = Array.from({ length: 30 }, (_, i) => seed(7200 + i, `acme/repo-${i % 3}`));
    const ids = await Promise.all(runs.map(deliverRun));
    await events.waitFor(() => ids.every((id) => events.heard().includes(id)));
    await events.cancel();
    // One message a tick at most: 30 changes written together cannot take 30 ticks.
    expect(events.messages().length).toBeLessThan(ids.length / 2);
    expect(new Set(events.heard())).toEqual(new Set(ids));
  });
});
