import { mkdtemp, rm } from "node:fs/promises";
// @ts-expect-error: async-exit-hook ships no types; only unhookEvent is used.
import exitHook from "async-exit-hook";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../src/db/embedded-postgres.js";
import { migrate } from "../src/db/migrate.js";
import { ensureDatabase } from "../src/db/open-database.js";
import { ensureChromium } from "./helpers/ensure-chromium.js";
import { TEMPLATE_DATABASE } from "./helpers/template-database.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A server where the tests may create databases. */
    adminUrl: string;
    /** The browser for the browser tests, or why there is none (those tests fail with it). */
    chromium: { path: string } | { error: string };
  }
}

/**
 * One PostgreSQL server for the whole run: `DATABASE_URL` when set (its role must be allowed
 * to create databases), otherwise an embedded server in a temporary folder. A template
 * database with the real migrations is built once; each test file clones it. Chromium is found,
 * or installed, once too, before anything that needs stopping is started.
 */
export default async function setup(project: TestProject) {
  // A missing browser fails only the browser tests: the rest of the suite still runs.
  project.provide(
    "chromium",
    await ensureChromium({ env: process.env }).then(
      (path) => ({ path }),
      (error: Error) => ({ error: error.message }),
    ),
  );
  const log = pino({ level: process.env.LOG_LEVEL ?? "warn" });
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "runboard-test-"));
    embedded = await startEmbeddedPostgres({ dataDir, log, persistent: false });
    adminUrl = embedded.connectionUri;
  }
  const admin = new URL(adminUrl);
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
  await client.end();
  await ensureDatabase(admin.toString(), TEMPLATE_DATABASE);
  await migrate({ connectionUri: templateUrl.toString(), log });
  project.provide("adminUrl", admin.toString());

  return async () => {
    await embedded?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    // embedded-postgres (through async-exit-hook) exits the process with code 0 when its event
    // loop empties: that would hide failed tests from vitest's exit code, and from CI. The server
    // is stopped already, so its exit hooks have nothing left to do.
    exitHook.unhookEvent("beforeExit");
    exitHook.unhookEvent("exit");
  };
}
