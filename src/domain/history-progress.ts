/** How far an installation's history import got, as stored. */
export interface HistoryProgressRow {
  installation_id: number;
  account: string;
  repositories: number;
  repositories_done: number;
  runs: number;
  started_at: Date | null;
  /** Share of the import's time range stored so far, over its repositories (0..1). */
  fraction: number;
  /** Paused for the rate limit until then. */
  resume_at: Date | null;
}

export interface HistoryProgress {
  installation_id: number;
  account: string;
  repositories: number;
  repositories_done: number;
  runs: number;
  /** A rough estimate from the pace so far; null until there is a pace to go by. */
  seconds_left: number | null;
  paused_until: Date | null;
  /** "Importing history: 2 of 3 repositories, 460 runs, about a minute left" */
  text: string;
}

/** A duration as people say it: "about a minute", "about 5 minutes", "about 2 hours". */
export function roughDuration(seconds: number): string {
  if (seconds < 90) return "about a minute";
  if (seconds < 3_600) return `about ${Math.round(seconds / 60)} minutes`;
  const hours = Math.round(seconds / 3_600);
  return hours === 1 ? "about an hour" : `about ${hours} hours`;
}

/**
 * The progress of each import under way, for the overview and /api/sync: repositories done,
 * runs imported, and the time left at the pace so far (elapsed time over the share done).
 */
export function describeHistoryProgress(rows: HistoryProgressRow[], now: Date): HistoryProgress[] {
  return rows.map((row) => {
    const elapsed = row.started_at ? (now.getTime() - row.started_at.getTime()) / 1000 : 0;
    const secondsLeft = row.fraction > 0.01 && elapsed > 0 ? Math.round((elapsed * (1 - row.fraction)) / row.fraction) : null;
    const pausedUntil = row.resume_at && row.resume_at > now ? row.resume_at : null;
    const parts = [
      `${row.repositories_done} of ${row.repositories} repositories`,
      `${row.runs.toLocaleString("en")} runs`,
      pausedUntil
        ? `paused for the rate limit until ${pausedUntil.toISOString().slice(11, 16)} UTC`
        : secondsLeft !== null
          ? `${roughDuration(secondsLeft)} left`
          : "starting",
    ];
    return {
      installation_id: row.installation_id,
      account: row.account,
      repositories: row.repositories,
      repositories_done: row.repositories_done,
      runs: row.runs,
      seconds_left: secondsLeft,
      paused_until: pausedUntil,
      text: `Importing history: ${parts.join(", ")}`,
    };
  });
}
