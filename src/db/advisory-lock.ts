import pg from "pg";

/** Keys of the session advisory locks Runboard takes, one per job that runs on one replica at a time. */
export const LOCK_KEYS = { migrations: 7_262_001, poller: 7_262_002, historyImport: 7_262_003, payloadRetention: 7_262_004 } as const;

/**
 * Runs `fn` while this process holds the advisory lock `key`, on a connection of its own (a
 * session lock must not go back to the pool with the connection); without waiting when another
 * process holds it.
 * @returns `{ locked: false }` when another process holds the lock and `fn` did not run.
 */
export async function withAdvisoryLock<T>(connectionUri: string, key: number, fn: () => Promise<T>): Promise<{ locked: true; value: T } | { locked: false }> {
  const client = new pg.Client({ connectionString: connectionUri });
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [key]);
    if (!rows[0]?.locked) return { locked: false };
    return { locked: true, value: await fn() };
  } finally {
    // Ending the session releases the lock.
    await client.end();
  }
}
