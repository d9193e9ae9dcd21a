/** An installation's sync state, as stored (db/sync-state.ts reads it). */
export interface FreshnessRow {
  installation_id: number;
  account: string;
  last_synced_at: Date | null;
  /** Why the installation's last poll failed; null when it did not. */
  last_error: string | null;
  repositories: number;
  repositories_with_errors: number;
}

export interface Freshness {
  installation_id: number;
  account: string;
  last_synced_at: Date | null;
  repositories: number;
  behind: boolean;
  reason: string | null;
}

/**
 * Whether each installation's data can be trusted to be complete: it is behind when it was
 * never synced, when its last sync is older than `staleAfterMs`, or when it or some of its
 * repositories failed to poll.
 */
export function describeFreshness(rows: readonly FreshnessRow[], now: Date, staleAfterMs: number): Freshness[] {
  return rows.map((row) => {
    let reason: string | null = null;
    if (!row.last_synced_at) reason = "never synced yet";
    else if (row.last_error) reason = `last poll failed: ${row.last_error}`;
    else if (now.getTime() - row.last_synced_at.getTime() > staleAfterMs) reason = "no sync for longer than expected";
    else if (row.repositories_with_errors > 0) reason = `${row.repositories_with_errors} repositories failed to poll`;
    return {
      installation_id: row.installation_id,
      account: row.account,
      last_synced_at: row.last_synced_at,
      repositories: row.repositories,
      behind: reason !== null,
      reason,
    };
  });
}
