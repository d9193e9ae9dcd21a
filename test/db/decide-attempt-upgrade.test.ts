import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { normalizeWorkflowRun } from "../../src/domain/normalize.js";
import { createIngest, type Ingest, type IngestInput } from "../../src/ingest.js";
import { runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { stagedMigrations } from "../helpers/staged-migrations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-09-20T12:00:00Z");
const seed: SeedRun = {
  id: 31_000, repository: "acme/attempts", workflow: "CI", branch: "main", conclusion: "failure",
  createdAt: new Date("2026-09-20T10:00:00Z"), seconds: 120, actor: "mona", message: "m",
};

function run(over: Partial<SeedRun>): IngestInput {
  const p = runPayload({ ...seed, ...over });
  return { kind: "run", record: normalizeWorkflowRun(p.workflow_run, { fallbackRepository: p.repository }) } as IngestInput;
}

describe("upgrading to one decision per attempt (0026)", () => {
  let db: TestDatabase;
  let migrations: Awaited<ReturnType<typeof stagedMigrations>> | undefined;
  let ingest: Ingest;
  beforeEach(async () => {
    db = await createTestDatabase({ empty: true });
    ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: { channel: "#ci" }, now: () => NOW, sendDelayMs: 0 } });
  });
  afterEach(async () => {
    await db.drop();
    await migrations?.close();
  });

  it("still tells of the fix when the run was being re-run as the upgrade ran", async () => {
    migrations = await stagedMigrations(db.connectionUri, "0026_decide_attempt_once.sql");
    // Before the upgrade: attempt 1 fails (main is broken), and a re-run of it is queued.
    await ingest(run({}));
    await ingest(run({ attempt: 2, status: "queued", createdAt: new Date("2026-09-20T10:30:00Z") }));
    await migrations.rest();
    // After it: the re-run passes. That is news.
    await ingest(run({ attempt: 2, conclusion: "success", createdAt: new Date("2026-09-20T10:30:00Z") }));
    const kinds = await db.pool.anyFirst(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM alerts WHERE channel = 'slack' ORDER BY id`);
    expect(kinds).toEqual(["broken", "fixed"]);
  });
});
