import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { migrate } from "../../src/db/migrate.js";
import { normalizeWorkflowRun } from "../../src/domain/normalize.js";
import { createIngest, type Ingest, type IngestInput } from "../../src/ingest.js";
import { projectPath } from "../../src/project-path.js";
import { runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const log = pino({ level: "silent" });
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
  let dir: string;
  let ingest: Ingest;
  beforeEach(async () => {
    db = await createTestDatabase({ empty: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "runboard-migrations-"));
    ingest = createIngest({ pool: db.pool, alerting: { email: null, slack: { channel: "#ci" }, now: () => NOW, sendDelayMs: 0 } });
  });
  afterEach(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("still tells of the fix when the run was being re-run as the upgrade ran", async () => {
    const files = (await readdir(projectPath("migrations"))).filter((f) => f.endsWith(".sql")).sort();
    for (const file of files.filter((f) => f < "0026")) await cp(projectPath("migrations", file), path.join(dir, file));
    await migrate({ connectionUri: db.connectionUri, log, dir });
    // Before the upgrade: attempt 1 fails (main is broken), and a re-run of it is queued.
    await ingest(run({}));
    await ingest(run({ attempt: 2, status: "queued", createdAt: new Date("2026-09-20T10:30:00Z") }));
    for (const file of files) await cp(projectPath("migrations", file), path.join(dir, file));
    await migrate({ connectionUri: db.connectionUri, log, dir });
    // After it: the re-run passes. That is news.
    await ingest(run({ attempt: 2, conclusion: "success", createdAt: new Date("2026-09-20T10:30:00Z") }));
    const kinds = await db.pool.anyFirst(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM alerts WHERE channel = 'slack' ORDER BY id`);
    expect(kinds).toEqual(["broken", "fixed"]);
  });
});
