import { randomBytes } from "node:crypto";
import pg from "pg";
import type { DatabasePool } from "slonik";
import { inject } from "vitest";
import { createPool } from "../../src/db/create-pool.js";
import { TEMPLATE_DATABASE } from "./template-database.js";


export interface TestDatabase {
  connectionUri: string;
  pool: DatabasePool;
  /** Ends the pool and drops the database. */
  drop(): Promise<void>;
}

/**
 * A fresh database with the real migrations, cloned from the template built in global setup.
 * @param options.empty an empty database instead, without migrations.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject("adminUrl");
  const name = `runboard_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${options.empty ? "template0" : TEMPLATE_DATABASE}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const connectionUri = url.toString();
  const pool = await createPool(connectionUri, { captureStackTrace: true });
  return {
    connectionUri,
    pool,
    async drop() {
      await pool.end();
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
