import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** The file that marks a folder as the demo's own, safe to empty. */
const MARKER = "RUNBOARD-DEMO";

/**
 * Empties the demo's data directory, so each `npm run demo` starts from a fresh two weeks (the
 * history is made relative to now, and live run ids start after it). Only a folder the demo made
 * (it holds the marker file), or an empty or missing one, is touched: anything else is refused.
 */
export async function resetDemoDataDir(dir: string): Promise<void> {
  const resolved = path.resolve(dir);
  if (existsSync(resolved)) {
    const entries = await readdir(resolved);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new Error(`${dir} holds files the demo did not make; it empties its data directory at each start, so choose another (--data-dir)`);
    }
    if (await isPostgresRunning(path.join(resolved, "postgres"))) {
      throw new Error(`another demo is running on ${dir}: stop it first, or give this one another --data-dir`);
    }
    await rm(resolved, { recursive: true, force: true });
  }
  await mkdir(resolved, { recursive: true });
  await writeFile(path.join(resolved, MARKER), "Runboard's demo data (npm run demo). Emptied at each start of the demo.\n");
}

/** Whether the PostgreSQL server of this data directory is up: its pid file names a live process. */
async function isPostgresRunning(databaseDir: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(databaseDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's (the embedded server runs as `postgres` under root).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
