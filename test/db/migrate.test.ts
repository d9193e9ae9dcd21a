import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { migrate, readMigrations } from "../../src/db/migrate.js";
import { projectPath } from "../../src/project-path.js";
import { silentLog } from "../helpers/github-app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

describe("migrate", () => {
  let db: TestDatabase;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase({ empty: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "runboard-migrations-"));
    await cp(projectPath("migrations"), dir, { recursive: true });
  });
  afterEach(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const appliedIds = () =>
    db.pool.anyFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM schema_migrations ORDER BY id`);

  it("applies every migration once, then nothing", async () => {
    const all = await readMigrations(dir);
    expect(await migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).toEqual(all.map((m) => m.name));
    expect(await migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).toEqual([]);
    expect(await appliedIds()).toEqual(all.map((m) => m.id));
    const providers = await db.pool.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM providers`);
    expect(providers).toEqual(["GitHub Actions"]);
  });

  it("migrates once when several processes start together", async () => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => migrate({ connectionUri: db.connectionUri, log: silentLog, dir })),
    );
    expect(runs.flat()).toEqual((await readMigrations(dir)).map((m) => m.name));
    expect((await appliedIds()).length).toBe((await readMigrations(dir)).length);
  });

  it("refuses to start when a landed migration was edited", async () => {
    await migrate({ connectionUri: db.connectionUri, log: silentLog, dir });
    await writeFile(path.join(dir, "0001_initial.sql"), "-- edited\nSELECT 1;\n");
    await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(
      /migration 0001_initial.sql was changed after it was applied/,
    );
  });

  it("rolls back a failing migration whole and names it", async () => {
    await writeFile(path.join(dir, "9999_broken.sql"), "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n");
    await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(/migration 9999_broken.sql failed/);
    const halfDone = await db.pool.oneFirst(sql.type(z.object({ t: z.string().nullable() }))`SELECT to_regclass('half_done')::text AS t`);
    expect(halfDone).toBeNull();
    expect(await appliedIds()).not.toContain(9999);
  });

  it("refuses badly named migration files", async () => {
    await writeFile(path.join(dir, "2_oops.sql"), "SELECT 1;");
    await expect(readMigrations(dir)).rejects.toThrow(/2_oops.sql must be named NNNN_name.sql/);
  });
});
