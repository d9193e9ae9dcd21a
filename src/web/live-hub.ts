import pg from "pg";
import type { Logger } from "pino";
import { BUILD_CHANGED_CHANNEL } from "../ingest.js";

export interface BuildChangedListener {
  change(buildId: number): void;
  /** The hub is closing (shutdown): end the stream. */
  close(): void;
}

export interface LiveHub {
  /** Tells `listener` the id of every build that changes, on any replica; returns the unsubscribe. */
  subscribe(listener: BuildChangedListener): () => void;
  close(): Promise<void>;
}

/**
 * Listens on Postgres `LISTEN build_changed` with one dedicated connection per process and fans
 * each notification out to this process's subscribers (the SSE clients). Every replica listens,
 * so a build ingested anywhere reaches every open dashboard. A lost connection is re-opened
 * with backoff; clients fall back to their periodic refresh meanwhile.
 */
export function createLiveHub(options: { connectionUri: string; log: Logger }): LiveHub {
  const listeners = new Set<BuildChangedListener>();
  const log = options.log.child({ component: "live" });
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delayMs = 500;

  const connect = async () => {
    if (closed) return;
    const next = new pg.Client({ connectionString: options.connectionUri });
    next.on("notification", (message) => {
      const id = Number(message.payload);
      if (!Number.isSafeInteger(id)) return;
      for (const listener of listeners) listener.change(id);
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
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      for (const listener of listeners) listener.close();
      listeners.clear();
      await client?.end().catch(() => undefined);
    },
  };
}
