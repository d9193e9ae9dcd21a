import pg from "pg";
import type { Logger } from "pino";
import { startEmbeddedPostgres } from "./embedded-postgres.js";

export interface OpenedDatabase {
  connectionUri: string;
  /** "external" for DATABASE_URL, "embedded" for the server started here. */
  mode: "external" | "embedded";
  close(): Promise<void>;
}

const EMBEDDED_DATABASE = "runboard";

/**
 * The database Runboard runs on: `DATABASE_URL` when set, otherwise an embedded PostgreSQL
 * in `<dataDir>/postgres` holding a `runboard` database.
 */
export async function openDatabase(options: {
  databaseUrl: string | null;
  dataDir: string;
  log: Logger;
}): Promise<OpenedDatabase> {
  if (options.databaseUrl) {
    return { connectionUri: options.databaseUrl, mode: "external", close: async () => {} };
  }
  const server = await startEmbeddedPostgres({ dataDir: options.dataDir, log: options.log });
  try {
    await ensureDatabase(server.connectionUri, EMBEDDED_DATABASE);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = new URL(server.connectionUri);
  url.pathname = `/${EMBEDDED_DATABASE}`;
  return { connectionUri: url.toString(), mode: "embedded", close: () => server.stop() };
}

/** Creates the database `name` on the server at `connectionUri` unless it exists. */
export async function ensureDatabase(connectionUri: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: connectionUri });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    }
  } finally {
    await client.end();
  }
}
