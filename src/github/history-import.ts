import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { LOCK_KEYS, withAdvisoryLock } from "../db/advisory-lock.js";
import { createRepeatingWorker, type RepeatingWorker } from "../repeating-worker.js";
import { InstallationPausedError, type GithubClients } from "./github-clients.js";
import { emptyStats, ListingStoppedError, type PollStats, type RunLister } from "./list-runs.js";
import { pauseHistory } from "../db/installations.js";
import { type PendingHistory, finishHistory, listPendingHistory, saveHistoryProgress, startHistory } from "../db/sync-repositories.js";

/**
 * The import stops while the installation has less than this share of its hourly requests
 * left, so that live work (check runs, re-runs, the poller) always has some; it goes on after
 * the reset.
 */
export const HISTORY_BUDGET_SHARE = 0.2;

export interface HistoryImport extends RepeatingWorker {
  /**
   * One pass: imports what is pending, repository after repository, until done or until an
   * installation's budget runs low. Skipped (`skipped` set) while another replica imports.
   * @param options.onProgress called after each stored window and each finished repository.
   */
  runOnce(options?: { repository?: string; onProgress?: (stats: PollStats, repository: string) => void }): Promise<number>;
  /** The statistics of the last pass. */
  lastStats(): PollStats;
}

/**
 * Imports the history of each repository an installation can see: every run created in the
 * last `days` (with the jobs of failed runs), through the same run-lister, normalize and ingest
 * as the poller, marked as history (no alert, no check run; branch states set silently).
 * Progress is stored per window, so a restart, here or on another replica, resumes after the
 * last stored window; one replica imports at a time (its own advisory lock, not the poller's:
 * live polling keeps its pace). When an installation's remaining requests fall below
 * HISTORY_BUDGET_SHARE of its limit, or GitHub pauses it, its import stops and is picked up
 * after the reset: no wait happens under the lock.
 */
export function createHistoryImport(deps: {
  pool: DatabasePool;
  connectionUri: string;
  github: GithubClients;
  lister: RunLister;
  log: Logger;
  now: () => Date;
  /** BACKFILL_DAYS: how far back; 0 turns the import off. */
  days: number;
  intervalMs?: number;
  budgetShare?: number;
}): HistoryImport {
  const log = deps.log.child({ worker: "history-import" });
  const share = deps.budgetShare ?? HISTORY_BUDGET_SHARE;
  let stats = emptyStats();
  // Set by stop(): the pass ends after the request under way, its progress stored.
  let stopping = false;

  async function importRepository(repo: PendingHistory, onProgress?: (stats: PollStats, repository: string) => void) {
    const now = deps.now();
    const since = await startHistory(deps.pool, repo.repository_id, new Date(now.getTime() - deps.days * 86_400_000), now);
    // Resume after the last stored window of an import (or backfill) that began at or before `since`.
    const resumed = repo.backfilled_from && repo.backfilled_to && repo.backfilled_from.getTime() <= since.getTime() ? repo.backfilled_to : null;
    const from = resumed ? new Date(resumed.getTime() + 1) : since;
    if (from < now) {
      const octokit = await deps.github.installation(repo.installation_id);
      const budget = () => deps.github.budget(repo.installation_id);
      await deps.lister.importWindow(stats, octokit, repo, { from, to: now }, {
        isHistory: () => true,
        shouldStop: () => {
          const b = budget();
          return stopping || (b !== null && b.remaining < b.limit * share);
        },
        onWindowDone: async (to, runs) => {
          await saveHistoryProgress(deps.pool, repo.repository_id, since, to, runs);
          onProgress?.(stats, repo.full_name);
        },
      });
    }
    await finishHistory(deps.pool, repo.repository_id, deps.now());
    stats.repositories += 1;
    onProgress?.(stats, repo.full_name);
    log.info({ repository: repo.full_name, since: since.toISOString() }, "history imported");
  }

  async function pass(options: Parameters<HistoryImport["runOnce"]>[0] = {}): Promise<number> {
    const pending = (await listPendingHistory(deps.pool, deps.now())).filter((r) => !options.repository || r.full_name === options.repository);
    const stopped = new Set<number>();
    let done = 0;
    for (const repo of pending) {
      if (stopping) break;
      if (stopped.has(repo.installation_id)) continue;
      try {
        await importRepository(repo, options.onProgress);
        done += 1;
      } catch (error) {
        if (stopping) break;
        if (error instanceof ListingStoppedError || error instanceof InstallationPausedError) {
          const budget = deps.github.budget(repo.installation_id);
          const until = error instanceof InstallationPausedError ? new Date(deps.now().getTime() + error.waitMs) : (budget?.resetAt ?? new Date(deps.now().getTime() + 60_000));
          stopped.add(repo.installation_id);
          await pauseHistory(deps.pool, repo.installation_id, until);
          log.info({ installationId: repo.installation_id, until: until.toISOString(), remaining: budget?.remaining }, "history import paused to leave the rate limit to live work; it goes on after the reset");
          continue;
        }
        log.warn({ repository: repo.full_name, err: (error as Error).message }, "history of this repository not imported yet; the next pass goes on where it stopped");
      }
    }
    return done;
  }

  async function runOnce(options?: Parameters<HistoryImport["runOnce"]>[0]): Promise<number> {
    stats = emptyStats();
    if (deps.days <= 0 || !deps.github.ready()) return 0;
    // Nothing to import (the usual case): no lock to take, no connection to open.
    if ((await listPendingHistory(deps.pool, deps.now())).length === 0) return 0;
    const result = await withAdvisoryLock(deps.connectionUri, LOCK_KEYS.historyImport, () => pass(options));
    if (!result.locked) {
      stats = { ...emptyStats(), skipped: "another replica is importing history" };
      return 0;
    }
    return result.value;
  }

  // One pass imports everything pending: the schedule runs one every interval.
  const worker = createRepeatingWorker({
    log,
    intervalMs: deps.intervalMs ?? 5_000,
    maxPerPass: 1,
    handleOne: async () => {
      await runOnce();
      return true;
    },
  });
  return {
    ...worker,
    runOnce,
    lastStats: () => stats,
    async stop() {
      stopping = true;
      await worker.stop();
      stopping = false;
    },
  };
}
