import pg from "pg";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { BUILD_CHANGED_CHANNEL, describeChangedBuilds, type ChangedBuildSummary } from "../db/builds.js";

/** Changes are gathered this long, then told to every open page at once. */
export const LIVE_TICK_MS = 500;

/** What a page shows: it hears only of builds that match every field given. */
export interface LiveFilter {
  repository?: string;
  workflow?: string;
  branch?: string;
  build?: number;
}

export interface LiveSubscriber {
  /** The installations the page may see, or null for all. */
  scope: readonly number[] | null;
  filter: LiveFilter;
  /** The builds that changed since the last tick, visible to the page and matching its filter (never empty). */
  changed(builds: ChangedBuildSummary[]): void;
  /** The hub is closing (shutdown): end the stream. */
  close(): void;
}

export interface LiveHub {
  /** Tells `subscriber` of the builds that change on any replica, once per tick at most; returns the unsubscribe. */
  subscribe(subscriber: LiveSubscriber): () => void;
  close(): Promise<void>;
}

export function matchesFilter(build: ChangedBuildSummary, filter: LiveFilter): boolean {
  return (
    (filter.build === undefined || build.id === filter.build) &&
    (filter.repository === undefined || build.repository === filter.repository) &&
    (filter.workflow === undefined || build.workflow === filter.workflow) &&
    (filter.branch === undefined || build.branch === filter.branch)
  );
}

/**
 * Listens on Postgres `LISTEN build_changed` with one dedicated connection per process and tells
 * this process's open pages (the SSE streams) what changed. Every replica listens, so a build
 * ingested anywhere reaches every open dashboard. The cost does not grow with events times
 * streams: notifications are gathered for a tick, the changed builds are read in one query,
 * visibility is decided once per scope (a set of installations), and each page gets at most
 * one message a tick, only when something it shows changed. A lost connection is re-opened
 * with backoff; pages fall back to their periodic refresh meanwhile.
 */
export function createLiveHub(options: { connectionUri: string; pool: DatabasePool; log: Logger; tickMs?: number }): LiveHub {
  const subscribers = new Set<LiveSubscriber>();
  const log = options.log.child({ component: "live" });
  const tickMs = options.tickMs ?? LIVE_TICK_MS;
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delayMs = 500;
  let pending = new Set<number>();
  let ticking: Promise<void> | null = null;

  async function tick(): Promise<void> {
    if (pending.size === 0 || subscribers.size === 0) {
      pending.clear();
      return;
    }
    const ids = [...pending];
    pending = new Set();
    let builds: ChangedBuildSummary[];
    try {
      builds = await describeChangedBuilds(options.pool, ids);
    } catch (error) {
      // Pages refresh on their own every 30 s; the next change is told as usual.
      log.warn({ err: (error as Error).message }, "live updates could not read the changed builds");
      return;
    }
    const byScope = new Map<string, ChangedBuildSummary[]>();
    for (const subscriber of subscribers) {
      const scopeKey = subscriber.scope === null ? "*" : [...subscriber.scope].sort((a, b) => a - b).join(",");
      let visible = byScope.get(scopeKey);
      if (!visible) {
        const allowed = subscriber.scope === null ? null : new Set(subscriber.scope);
        visible = allowed === null ? builds : builds.filter((b) => b.installation_id !== null && allowed.has(b.installation_id));
        byScope.set(scopeKey, visible);
      }
      const relevant = visible.filter((build) => matchesFilter(build, subscriber.filter));
      if (relevant.length > 0) subscriber.changed(relevant);
    }
  }

  const timer = setInterval(() => {
    if (ticking) return;
    ticking = tick().finally(() => {
      ticking = null;
    });
  }, tickMs);
  timer.unref();

  const connect = async () => {
    if (closed) return;
    const next = new pg.Client({ connectionString: options.connectionUri });
    next.on("notification", (message) => {
      const id = Number(message.payload);
      if (Number.isSafeInteger(id) && subscribers.size > 0) pending.add(id);
    });
    next.on("error", (error) => {
      log.warn({ err: error.message }, "live updates connection lost; reconnecting");
      next.end().catch(() => undefined);
      if (client === next) client = undefined;
      scheduleReconnect();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${BUILD_CHANGED_CHANNEL}`);
      if (closed) {
        await next.end();
        return;
      }
      client = next;
      delayMs = 500;
    } catch (error) {
      log.warn({ err: (error as Error).message }, "live updates cannot listen yet; retrying");
      next.end().catch(() => undefined);
      scheduleReconnect();
    }
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delayMs);
    retryTimer.unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  };

  void connect();

  return {
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(timer);
      for (const subscriber of subscribers) subscriber.close();
      subscribers.clear();
      await ticking;
      await client?.end().catch(() => undefined);
    },
  };
}
