import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { migrate } from "../../src/db/migrate.js";
import { projectPath } from "../../src/project-path.js";

/**
 * Migrates a database as a running one was: the project's migrations before `first` (a file name,
 * e.g. "0024_build_rollups.sql"), then, when `rest()` is called, all of them. `close()` removes
 * the copy of the files.
 */
export async function stagedMigrations(connectionUri: string, first: string): Promise<{ rest(): Promise<void>; close(): Promise<void> }> {
  const log = pino({ level: "silent" });
  const dir = await mkdtemp(path.join(os.tmpdir(), "runboard-migrations-"));
  const files = (await readdir(projectPath("migrations"))).filter((f) => f.endsWith(".sql")).sort();
  if (!files.includes(first)) throw new Error(`no migration ${first}`);
  for (const file of files.filter((f) => f < first)) await cp(projectPath("migrations", file), path.join(dir, file));
  await migrate({ connectionUri, log, dir });
  return {
    async rest() {
      for (const file of files) await cp(projectPath("migrations", file), path.join(dir, file));
      await migrate({ connectionUri, log, dir });
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
