import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { DatabasePool } from "slonik";
import { isBuildVisible } from "../db/builds.js";
import { scopeOf } from "./auth/access.js";
import type { LiveHub } from "./live-hub.js";

const HEARTBEAT_MS = 25_000;

/**
 * GET /events: Server-Sent Events for open dashboards. Each changed build becomes two named
 * events, `build` (any build) and `build-<id>` (that build), which tell fragments to refresh.
 */
export function createEventRoutes(deps: { live: LiveHub; pool: DatabasePool }): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    const scope = scopeOf(c);
    // A user limited to some installations hears only of their builds: the ids of others'
    // would tell them when another organization's CI ran.
    const visible = async (id: number) =>
      scope === null ||
      (await isBuildVisible(deps.pool, id, scope));
    return streamSSE(c, async (stream) => {
      const queue: number[] = [];
      let wake: (() => void) | undefined;
      let open = true;
      const unsubscribe = deps.live.subscribe({
        change(id) {
          queue.push(id);
          wake?.();
        },
        close() {
          open = false;
          wake?.();
        },
      });
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      await stream.writeSSE({ event: "hello", data: "live", retry: 3000 });
      try {
        while (open) {
          while (queue.length > 0 && open) {
            const id = queue.shift()!;
            if (!(await visible(id))) continue;
            await stream.writeSSE({ event: "build", data: String(id) });
            await stream.writeSSE({ event: `build-${id}`, data: String(id) });
          }
          const signal = new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, HEARTBEAT_MS).unref();
          });
          await signal;
          wake = undefined;
          if (open && queue.length === 0) await stream.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
