import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { LOCK_KEYS, withAdvisoryLock } from "../db/advisory-lock.js";
import { createSchedule, type Schedule } from "../schedule.js";
import type { Endpoints } from "@octokit/types";
import type { GithubClients, Octokit } from "./github-clients.js";
import type { FailedDeliveryRedeliverer } from "./redeliver-failed.js";
import { emptyStats, type PollStats, type RunLister } from "./list-runs.js";
import { markInstallationSynced, upsertInstallation } from "../db/installations.js";
import { pruneSyncRepositories, savePollState, upsertSyncRepository } from "../db/sync-repositories.js";

export type { PollStats };

const PER_PAGE = 100;

export interface Poller {
  start(): void;
  stop(): Promise<void>;
  /** One pass over every installation and repository. */
  pollOnce(): Promise<PollStats>;
}

/** One of the app's installations, as Octokit types GitHub's answer. */
type AppInstallation = Endpoints["GET /app/installations"]["response"]["data"][number];
/** One repository an installation reaches. */
type InstallationRepository = Endpoints["GET /installation/repositories"]["response"]["data"]["repositories"][number];

/** Every page of a listing: `items` picks a page's entries from GitHub's answer. */
async function listAll<Route extends "GET /app/installations" | "GET /installation/repositories", Item>(
  stats: PollStats,
  octokit: Octokit,
  route: Route,
  items: (data: Endpoints[Route]["response"]["data"]) => Item[],
): Promise<Item[]> {
  const all: Item[] = [];
  for (let page = 1; ; page++) {
    const { data } = await octokit.request(route as string, { per_page: PER_PAGE, page });
    stats.requests += 1;
    const entries = items(data as Endpoints[Route]["response"]["data"]);
    all.push(...entries);
    if (entries.length < PER_PAGE) return all;
  }
}

/**
 * The poller: finds every run the webhooks missed.
 * 1. take the poller's advisory lock (one replica polls at a time), or skip the pass
 * 2. list the app's installations and record them (suspended and deleted ones are not polled)
 * 3. for each installation, list its repositories and poll each from its cursor (run-lister)
 * 4. record when each installation was last synced, and why not where it failed
 * 5. ask GitHub to redeliver the webhook deliveries its log records as failed
 * Runs it heals are live (they alert and get check runs like webhooks), unless they finished
 * before the installation was first seen. A rate limit pauses the installation (its client
 * says so); the repository is tried again at the next pass, never waited for under the lock.
 */
export function createPoller(deps: {
  pool: DatabasePool;
  connectionUri: string;
  github: GithubClients;
  lister: RunLister;
  log: Logger;
  now: () => Date;
  intervalSeconds: number;
  jitterSeconds: number;
  /** How far back a repository's first poll looks. */
  lookbackHours?: number;
  random?: () => number;
  /** Asks GitHub again for deliveries its log records as failed, once per pass. */
  redeliverer?: FailedDeliveryRedeliverer;
}): Poller {
  const log = deps.log.child({ worker: "poller" });

  async function pollInstallation(stats: PollStats, installation: AppInstallation, firstSeenAt: Date) {
    const octokit = await deps.github.installation(installation.id);
    const repos = await listAll(stats, octokit, "GET /installation/repositories", (data): InstallationRepository[] => data.repositories);
    await pruneSyncRepositories(deps.pool, installation.id, repos.map((r) => r.id));
    await Promise.all(
      repos.map(async (r) => {
        const repo = await upsertSyncRepository(deps.pool, {
          id: r.id, installationId: installation.id, fullName: r.full_name, defaultBranch: r.default_branch ?? null,
        });
        try {
          await deps.lister.pollRepository(stats, octokit, repo, {
            now: deps.now(),
            lookbackHours: deps.lookbackHours ?? 24,
            isHistory: (run) => run.finished_at !== null && run.finished_at < firstSeenAt,
          });
        } catch (error) {
          const message = (error as Error).message;
          await savePollState(deps.pool, repo.repository_id, { cursor: null, etag: repo.etag, etagUrl: repo.etag_url, polledAt: deps.now(), error: message });
          log.warn({ repository: repo.full_name, err: message }, "repository not polled; the next poll tries again");
        }
        stats.repositories += 1;
      }),
    );
  }

  async function pass(): Promise<PollStats> {
    const stats = emptyStats();
    const app = await deps.github.app();
    if (!app) return stats;
    const installations = await listAll(stats, app, "GET /app/installations", (data): AppInstallation[] => data);
    for (const installation of installations) {
      const suspendedAt = installation.suspended_at ? new Date(installation.suspended_at) : null;
      const { active, firstSeenAt } = await upsertInstallation(deps.pool, installation.id, installation.account?.login ?? String(installation.id), suspendedAt);
      // Suspended: its tokens are refused until it is unsuspended. Deleted: gone for good.
      if (!active) continue;
      stats.installations += 1;
      let error: string | null = null;
      try {
        await pollInstallation(stats, installation, firstSeenAt);
      } catch (installationError) {
        error = (installationError as Error).message;
        log.warn({ installationId: installation.id, err: error }, "installation not polled; the next poll tries again");
      }
      await markInstallationSynced(deps.pool, installation.id, deps.now(), error);
    }
    if (deps.redeliverer) {
      try {
        const redelivered = await deps.redeliverer.runOnce();
        if (redelivered.redelivered > 0) log.info(redelivered, "failed webhook deliveries asked for again");
      } catch (error) {
        log.warn({ err: error }, "failed deliveries not looked at; the next poll tries again");
      }
    }
    log.info(stats, "poll finished");
    return stats;
  }

  async function pollOnce(): Promise<PollStats> {
    // No GitHub App yet: nothing to poll, not even a lock to take.
    if (!deps.github.ready()) return emptyStats();
    const result = await withAdvisoryLock(deps.connectionUri, LOCK_KEYS.poller, pass);
    return result.locked ? result.value : { ...emptyStats(), skipped: "another replica is polling" };
  }

  let schedule: Schedule | undefined;
  return {
    pollOnce,
    start() {
      if (deps.intervalSeconds <= 0) return;
      schedule = createSchedule({
        intervalSeconds: deps.intervalSeconds,
        jitterSeconds: deps.jitterSeconds,
        random: deps.random,
        run: () => pollOnce().catch((error: unknown) => log.error({ err: error }, "poll failed; the next one tries again")),
      });
    },
    async stop() {
      await schedule?.stop();
    },
  };
}
