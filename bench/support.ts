import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import { ensureDatabase } from "../src/db/open-database.js";
import { migrate } from "../src/db/migrate.js";

export const quietLog = pino({ level: process.env.LOG_LEVEL ?? "warn" });

/**
 * A migrated database for one benchmark: a fresh database on the server in DATABASE_URL, or
 * on an embedded PostgreSQL in a temporary folder; dropped or removed afterwards.
 */
export async function withBenchDatabase<T>(name: string, run: (connectionUri: string) => Promise<T>): Promise<T> {
  let dataDir: string | undefined;
  let stop = async () => {};
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), `runboard-bench-${name}-`));
    const server = await startEmbeddedPostgres({ dataDir, log: quietLog, persistent: false });
    adminUrl = server.connectionUri;
    stop = () => server.stop();
  }
  const database = `runboard_bench_${name}_${process.pid}`;
  await ensureDatabase(adminUrl, database);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  try {
    await migrate({ connectionUri: url.toString(), log: quietLog });
    return await run(url.toString());
  } finally {
    if (process.env.DATABASE_URL) {
      const pg = await import("pg");
      const admin = new pg.default.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
    await stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** Median and p95 of `runs` timings of `fn` in milliseconds, after `warmup` untimed calls. */
export async function time(fn: () => Promise<unknown>, runs = 15, warmup = 3): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.min(samples.length - 1, Math.ceil(samples.length * 0.95) - 1)]! };
}

export const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** A Markdown table from rows of cells. */
export function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}
