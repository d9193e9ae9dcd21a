import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "slonik";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { migrate, NO_TRANSACTION_MARKER, readMigrations } from "../../src/db/migrate.js";
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

  const writeBatchArgCounts = () =>
    db.pool.anyFirst(
      sql.type(z.object({ n: z.number() }))`SELECT pronargs::int AS n FROM pg_proc WHERE proname = 'runboard_write_batch'`,
    );
  const checksumOf10 = () =>
    db.pool.oneFirst(sql.type(z.object({ checksum: z.string() }))`SELECT checksum FROM schema_migrations WHERE id = 10`);

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

  it("refuses to start when a landed migration changed by one byte", async () => {
    await migrate({ connectionUri: db.connectionUri, log: silentLog, dir });
    const file = path.join(dir, "0003_check_runs.sql");
    const bytes = await readFile(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await writeFile(file, bytes);
    await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(
      /migration 0003_check_runs.sql was changed after it was applied; migrations are forward only/,
    );
  });

  it("refuses 0010 recorded with a checksum that is neither of its landed versions", async () => {
    await migrate({ connectionUri: db.connectionUri, log: silentLog, dir });
    await db.pool.query(sql.unsafe`UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE id = 10`);
    await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(
      /migration 0010_write_batch.sql was changed after it was applied/,
    );
  });

  // Both versions of 0010 were on main, so databases exist migrated with either; each must
  // upgrade with the real migrations to one current write function.
  describe.each([
    { version: "first landed (6449625, 4 parameters)", file: projectPath("test/db/fixtures/0010_write_batch.6449625.sql"), args: 4 },
    { version: "current (5 parameters)", file: projectPath("migrations/0010_write_batch.sql"), args: 5 },
  ])("a database migrated with the $version 0010", ({ file, args }) => {
    it("upgrades with the real migrations", async () => {
      const later = (await readMigrations(dir)).filter((m) => m.id > 10).map((m) => m.name);
      await Promise.all(later.map((name) => rm(path.join(dir, name))));
      await copyFile(file, path.join(dir, "0010_write_batch.sql"));
      await migrate({ connectionUri: db.connectionUri, log: silentLog, dir });
      expect(await writeBatchArgCounts()).toEqual([args]);
      const recorded = await checksumOf10();

      expect(await migrate({ connectionUri: db.connectionUri, log: silentLog })).toEqual(later);
      expect(await migrate({ connectionUri: db.connectionUri, log: silentLog })).toEqual([]);
      expect(await writeBatchArgCounts()).toHaveLength(1);
      const rows = await db.pool.any(
        sql.type(z.object({ kind: z.string() }))`SELECT kind FROM runboard_write_batch('[]', '[]', '[]', now())`,
      );
      expect(rows).toEqual([]);
      expect(await checksumOf10()).toBe(recorded);
    });
  });

  it("rolls back a failing migration whole and names it", async () => {
    await writeFile(path.join(dir, "9999_broken.sql"), "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n");
    await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(/migration 9999_broken.sql failed/);
    const halfDone = await db.pool.oneFirst(sql.type(z.object({ t: z.string().nullable() }))`SELECT to_regclass('half_done')::text AS t`);
    expect(halfDone).toBeNull();
    expect(await appliedIds()).not.toContain(9999);
  });

  describe("a migration marked to run outside a transaction", () => {
    const marked = (body: string) => `${NO_TRANSACTION_MARKER}\n-- a comment; then the statements\n${body}`;
    const indexes = () =>
      db.pool.any(
        sql.type(z.object({ name: z.string(), valid: z.boolean() }))`
          SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid = to_regclass('dupes') ORDER BY c.relname`,
      );

    it("builds an index concurrently, statement by statement, and is recorded", async () => {
      await writeFile(
        path.join(dir, "9999_concurrent.sql"),
        marked("CREATE TABLE dupes (n int);\nINSERT INTO dupes VALUES (1), (2);\nCREATE INDEX CONCURRENTLY dupes_n_idx ON dupes (n);\n"),
      );
      expect(await migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).toContain("9999_concurrent.sql");
      expect(await indexes()).toEqual([{ name: "dupes_n_idx", valid: true }]);
      expect(await appliedIds()).toContain(9999);
    });

    it("is refused by PostgreSQL without the marker", async () => {
      await writeFile(path.join(dir, "9999_concurrent.sql"), "CREATE TABLE dupes (n int);\nCREATE INDEX CONCURRENTLY dupes_n_idx ON dupes (n);\n");
      await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(/cannot run inside a transaction block/);
    });

    it("runs again from the top after a failure, replacing the invalid index a failed build left", async () => {
      await writeFile(
        path.join(dir, "9999_concurrent.sql"),
        marked(
          "CREATE TABLE IF NOT EXISTS dupes (n int);\nINSERT INTO dupes SELECT 1 WHERE NOT EXISTS (SELECT FROM dupes);\n" +
            "DROP INDEX CONCURRENTLY IF EXISTS dupes_n_key;\nCREATE UNIQUE INDEX CONCURRENTLY dupes_n_key ON dupes (n);\n",
        ),
      );
      await migrate({ connectionUri: db.connectionUri, log: silentLog, dir });
      await db.pool.query(sql.unsafe`DROP INDEX dupes_n_key`);
      await db.pool.query(sql.unsafe`INSERT INTO dupes VALUES (1)`);
      await db.pool.query(sql.unsafe`DELETE FROM schema_migrations WHERE id = 9999`);

      await expect(migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).rejects.toThrow(
        /migration 9999_concurrent.sql failed \(it runs outside a transaction.*could not create unique index/,
      );
      expect(await indexes()).toEqual([{ name: "dupes_n_key", valid: false }]);
      expect(await appliedIds()).not.toContain(9999);

      await db.pool.query(sql.unsafe`DELETE FROM dupes WHERE ctid = (SELECT max(ctid) FROM dupes)`);
      expect(await migrate({ connectionUri: db.connectionUri, log: silentLog, dir })).toEqual(["9999_concurrent.sql"]);
      expect(await indexes()).toEqual([{ name: "dupes_n_key", valid: true }]);
    });

    it("may not hold dollar quoting, which could hide a statement's end", async () => {
      await writeFile(path.join(dir, "9999_concurrent.sql"), marked("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"));
      await expect(readMigrations(dir)).rejects.toThrow(/9999_concurrent.sql runs outside a transaction and holds a \$/);
    });

    it("does not wait on a process queued for the migration lock", async () => {
      await writeFile(
        path.join(dir, "9999_concurrent.sql"),
        marked("CREATE TABLE dupes (n int);\nSELECT pg_sleep(0.5);\nCREATE INDEX CONCURRENTLY dupes_n_idx ON dupes (n);\n"),
      );
      const earlier = await onlyUpTo(dir, 9998);
      await migrate({ connectionUri: db.connectionUri, log: silentLog, dir: earlier });
      await rm(earlier, { recursive: true, force: true });
      // A second process asks for the lock while the first builds: a blocked `pg_advisory_lock`
      // would hold a snapshot the concurrent build waits for, and neither would finish.
      const runs = await Promise.all([
        migrate({ connectionUri: db.connectionUri, log: silentLog, dir }),
        new Promise((resolve) => setTimeout(resolve, 100)).then(() => migrate({ connectionUri: db.connectionUri, log: silentLog, dir })),
      ]);
      expect(runs).toEqual([["9999_concurrent.sql"], []]);
      expect(await indexes()).toEqual([{ name: "dupes_n_idx", valid: true }]);
    });
  });

  it("refuses badly named migration files", async () => {
    await writeFile(path.join(dir, "2_oops.sql"), "SELECT 1;");
    await expect(readMigrations(dir)).rejects.toThrow(/2_oops.sql must be named NNNN_name.sql/);
  });
});

/** A copy of the migrations in `dir` numbered up to `last`. */
async function onlyUpTo(dir: string, last: number): Promise<string> {
  const copy = await mkdtemp(path.join(os.tmpdir(), "runboard-migrations-"));
  for (const migration of await readMigrations(dir)) {
    if (migration.id <= last) await writeFile(path.join(copy, migration.name), migration.sql);
  }
  return copy;
}

describe("landed migrations", () => {
  const LIST = "test/db/landed-migrations.json";

  // A migration that ran somewhere must never change: the list holds each landed file's
  // checksum, so an edit fails here before it fails a database's start.
  it("are unchanged, and every migration file is in the list", async () => {
    const landed = z.record(z.string()).parse(JSON.parse(await readFile(projectPath(LIST), "utf8")));
    const files = await readMigrations();
    const problems: string[] = [];
    for (const [name, checksum] of Object.entries(landed)) {
      const file = files.find((m) => m.name === name);
      if (!file) {
        problems.push(`${name} landed and was removed; migrations are forward only: restore it`);
      } else if (file.checksum !== checksum) {
        problems.push(
          `${name} landed and was changed (checksum ${file.checksum}, landed ${checksum}); migrations are forward only: restore it and add a new migration`,
        );
      }
    }
    for (const file of files.filter((m) => !(m.name in landed))) {
      problems.push(
        `${file.name} is not in ${LIST}; migrations are forward only: a new migration's checksum is added to the list ` +
          `when it lands. Add this line to the list:\n  ${JSON.stringify(file.name)}: ${JSON.stringify(file.checksum)}`,
      );
    }
    expect(problems, `${problems.join("\n")}\n`).toEqual([]);
  });
});
