import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { projectPath } from "../project-path.js";
import { LOCK_KEYS } from "./advisory-lock.js";

/** One advisory lock key for every Runboard process that migrates this database. */
const MIGRATION_LOCK_KEY = LOCK_KEYS.migrations;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/**
 * A migration whose first line is this runs outside a transaction, one statement at a time, for
 * statements PostgreSQL refuses inside one (`CREATE INDEX CONCURRENTLY`, which builds an index
 * on a large table without blocking its writes). Such a file must be safe to run again from
 * the top: a failure leaves the statements before it applied and the migration unrecorded.
 */
export const NO_TRANSACTION_MARKER = "-- runboard:no-transaction";
/** How often a process waiting for another's migrations asks for the lock again. */
const LOCK_POLL_MS = 250;

/**
 * Checksums, besides the file's own, that a landed migration may be recorded with. Keep this
 * short: every entry is a migration that was edited after it landed, which the rule forbids.
 *
 * 0010_write_batch.sql was edited after it landed (6449625 created it with a 4-parameter
 * function, 04db315 changed it to 5 parameters), and both versions were on main, so databases
 * exist migrated with either. 0011_outbox_leases.sql drops both signatures and creates the
 * current function, so a database recorded with the first version upgrades to the same schema.
 */
const EARLIER_CHECKSUMS: ReadonlyMap<number, readonly string[]> = new Map([
  [10, ["0040596dbb39bf64dc4dc056656e8c263c1f4221698080a75ac3d94b01ab33fc"]],
]);

export interface MigrationFile {
  id: number;
  name: string;
  sql: string;
  checksum: string;
  /** Runs outside a transaction, statement by statement (see {@link NO_TRANSACTION_MARKER}). */
  transaction: boolean;
}

/**
 * The statements of a migration that runs outside a transaction. Statements end with `;` at the
 * end of a line; quoting that could hide one (`$$` bodies) is refused rather than guessed at.
 */
export function splitStatements(name: string, text: string): string[] {
  if (text.includes("$")) {
    throw new Error(`migration ${name} runs outside a transaction and holds a $ (dollar quoting); put functions in a migration of their own`);
  }
  return text
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.replace(/^\s*(?:--[^\n]*\n\s*)*/, "").trim())
    .filter((statement) => statement !== "");
}

/** The migrations in `dir`, ordered by their number. */
export async function readMigrations(dir = projectPath("migrations")): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith(".sql")).sort();
  const migrations: MigrationFile[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) {
      throw new Error(`migration file ${file} must be named NNNN_name.sql (lower case, digits and _)`);
    }
    const sql = await readFile(path.join(dir, file), "utf8");
    const id = Number(match[1]);
    if (migrations.some((m) => m.id === id)) {
      throw new Error(`two migration files share the number ${match[1]}`);
    }
    const transaction = !sql.startsWith(`${NO_TRANSACTION_MARKER}\n`);
    if (!transaction) splitStatements(file, sql);
    migrations.push({ id, name: file, sql, checksum: createHash("sha256").update(sql).digest("hex"), transaction });
  }
  return migrations;
}

/**
 * Applies the pending migrations, each in its own transaction (or, marked, statement by
 * statement), under an advisory lock so that replicas starting together migrate once. A landed
 * migration whose file changed stops the start: migrations are forward only.
 * @returns the names of the migrations applied now.
 */
export async function migrate(options: { connectionUri: string; log: Logger; dir?: string }): Promise<string[]> {
  const { log } = options;
  const migrations = await readMigrations(options.dir);
  const client = new pg.Client({ connectionString: options.connectionUri });
  await client.connect();
  const applied: string[] = [];
  try {
    await takeLock(client);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ id: number; name: string; checksum: string }>(
      "SELECT id, name, checksum FROM schema_migrations ORDER BY id",
    );
    const done = new Map(rows.map((row) => [row.id, row]));
    for (const row of rows) {
      const file = migrations.find((m) => m.id === row.id);
      if (!file) {
        log.warn({ migration: row.name }, "the database has a migration this version does not know; is an older version running?");
      } else if (EARLIER_CHECKSUMS.get(row.id)?.includes(row.checksum)) {
        // The record is left as it is, not rewritten to the current checksum: it keeps saying
        // which version of the file ran, and a build from between the two versions still finds
        // the checksum it expects there.
        log.debug({ migration: row.name }, "migration recorded with an earlier landed version of its file; accepted");
      } else if (file.checksum !== row.checksum) {
        throw new Error(
          `migration ${file.name} was changed after it was applied; migrations are forward only: restore the file and add a new one`,
        );
      }
    }
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      if (!migration.transaction) {
        await applyOutsideTransaction(client, migration);
        applied.push(migration.name);
        log.info({ migration: migration.name }, "migration applied");
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)", [
          migration.id,
          migration.name,
          migration.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(migration.name);
      log.info({ migration: migration.name }, "migration applied");
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return applied;
}

/**
 * Waits for the migration lock by asking again and again rather than with a blocking
 * `pg_advisory_lock`: a session blocked in a statement holds a snapshot, and
 * `CREATE INDEX CONCURRENTLY` in the holder's migration waits for every older snapshot, so the
 * two would wait on each other.
 */
async function takeLock(client: pg.Client): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]);
    if (rows[0]?.locked) return;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/** Runs a marked migration's statements one by one, then records it. */
async function applyOutsideTransaction(client: pg.Client, migration: MigrationFile): Promise<void> {
  try {
    for (const statement of splitStatements(migration.name, migration.sql)) await client.query(statement);
    await client.query("INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)", [migration.id, migration.name, migration.checksum]);
  } catch (error) {
    throw new Error(`migration ${migration.name} failed (it runs outside a transaction: what ran before the failure stays, and it runs again from the top): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
