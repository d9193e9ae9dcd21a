import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sign } from "@octokit/webhooks-methods";
import pg from "pg";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { start } from "../src/start.js";
import { silentLog, testConfig, TestOctokit, WEBHOOK_SECRET } from "./helpers/github-app.js";
import { createTestDatabase } from "./helpers/test-database.js";
import { workflowExamples } from "./helpers/webhook-examples.js";

const example = workflowExamples().find((e) => e.event === "workflow_run" && e.payload.workflow_run.conclusion === "success")!;

async function postWebhook(url: string) {
  const body = JSON.stringify(example.payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-delivery": randomUUID(),
      "x-github-event": "workflow_run",
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    },
    body,
  });
}

describe("start", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "runboard-start-"));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("serves on embedded PostgreSQL in DATA_DIR, and keeps the data across restarts", async () => {
    const config = testConfig({ DATA_DIR: dataDir });
    const first = await start({ config, log: silentLog, Octokit: TestOctokit });
    try {
      const health = await fetch(`${first.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok", database: "ok" });
      expect((await postWebhook(first.url)).status).toBe(200);
    } finally {
      await first.stop();
    }
    await expect(fetch(`${first.url}/health`)).rejects.toThrow();

    const second = await start({ config, log: silentLog, Octokit: TestOctokit });
    try {
      const list = (await (await fetch(`${second.url}/api/builds`)).json()) as any;
      expect(list.total).toBe(1);
      expect(list.builds[0]).toMatchObject({ external_id: String(example.payload.workflow_run.id), status: "success" });
    } finally {
      await second.stop();
    }
  });

  it("uses DATABASE_URL when set, and serves before a GitHub App is configured", async () => {
    const db = await createTestDatabase({ empty: true });
    try {
      const running = await start({
        config: testConfig({ DATABASE_URL: db.connectionUri, APP_ID: "", DATA_DIR: path.join(dataDir, "unused") }),
        log: silentLog,
      });
      try {
        expect((await fetch(`${running.url}/health`)).status).toBe(200);
        expect((await fetch(`${running.url}/`)).status).toBe(200);
        const webhook = await postWebhook(running.url);
        expect(webhook.status).toBe(503);
        // start ran the migrations on the external database.
        const tables = await db.pool.anyFirst(sql.type(z.object({ t: z.string() }))`
          SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
        expect(tables).toEqual(expect.arrayContaining(["builds", "build_jobs", "deliveries", "providers", "schema_migrations"]));
      } finally {
        await running.stop();
      }
    } finally {
      await db.drop();
    }
  });

  it("says clearly when the port is taken", async () => {
    const db = await createTestDatabase();
    try {
      const first = await start({ config: testConfig({ DATABASE_URL: db.connectionUri }), log: silentLog });
      try {
        const port = new URL(first.url).port;
        await expect(start({ config: testConfig({ DATABASE_URL: db.connectionUri, PORT: port }), log: silentLog })).rejects.toThrow(
          `port ${port} on 127.0.0.1 is already in use`,
        );
      } finally {
        await first.stop();
      }
    } finally {
      await db.drop();
    }
  });

  it("finishes a delivery in flight before it stops, and stops the workers and the pool only after it", async () => {
    const db = await createTestDatabase();
    const blocker = new pg.Client({ connectionString: db.connectionUri });
    await blocker.connect();
    try {
      const running = await start({ config: testConfig({ DATABASE_URL: db.connectionUri }), log: silentLog, Octokit: TestOctokit });
      const events: string[] = [];
      // Writes to builds wait for this lock: the delivery below stays in flight until it is released.
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE builds IN EXCLUSIVE MODE");
      const delivery = postWebhook(running.url).then((response) => {
        events.push(`delivery answered ${response.status}`);
        return response;
      });
      // Asked from another session: inside the blocker's transaction the activity view stays one snapshot.
      await waitFor(async () => {
        const waiting = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        return waiting > 0;
      });

      const stopped = running.stop().then(() => events.push("stopped"));
      // Stopping: no new connection is accepted, but the delivery in flight is not cut off.
      await waitFor(async () => fetch(`${running.url}/health`).then(() => false, () => true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(events).toEqual([]);

      await blocker.query("COMMIT");
      const response = await delivery;
      expect(response.status).toBe(200);
      await stopped;
      expect(events).toEqual(["delivery answered 200", "stopped"]);
      const stored = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM builds WHERE external_id = ${example.payload.workflow_run.id}`);
      expect(stored).toBe(1);
    } finally {
      await blocker.end();
      await db.drop();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
