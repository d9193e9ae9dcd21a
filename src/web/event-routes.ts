import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { ChangedBuildSummary } from "../db/builds.js";
import { scopeOf } from "./auth/access.js";
import type { LiveFilter, LiveHub } from "./live-hub.js";

const HEARTBEAT_MS = 25_000;

/** A message names this many builds at most; pages refetch what they show either way. */
const MAX_IDS_PER_MESSAGE = 50;

/** The page's filter, as its query string names it: unknown or empty fields are ignored. */
const filterQuery = z.object({
  repository: z.string().min(1).max(300).optional().catch(undefined),
  workflow: z.string().min(1).max(300).optional().catch(undefined),
  branch: z.string().min(1).max(300).optional().catch(undefined),
  build: z.coerce.number().int().positive().optional().catch(undefined),
});

/**
 * GET /events: Server-Sent Events for open dashboards. A page names what it shows
 * (`?repository=&workflow=&branch=&build=`) and gets one `build` event per tick at most, when a
 * build it may see and that matches changed; its data is the changed ids. `hello` comes when the
 * stream (re)opens, so the page catches up on what it missed.
 */
export function createEventRoutes(deps: { live: LiveHub }): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    // A user limited to some installations hears only of their builds: the ids of others'
    // would tell them when another organization's CI ran.
    const scope = scopeOf(c);
    const parsed = filterQuery.parse(c.req.query());
    const filter: LiveFilter = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
    return streamSSE(c, async (stream) => {
      const changed = new Map<number, ChangedBuildSummary>();
      let wake: (() => void) | undefined;
      let open = true;
      const unsubscribe = deps.live.subscribe({
        scope,
        filter,
        changed(builds) {
          for (const build of builds) changed.set(build.id, build);
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
          if (changed.size > 0) {
            // Everything gathered while the last write was under way goes as one message.
            const ids = [...changed.keys()].slice(0, MAX_IDS_PER_MESSAGE);
            changed.clear();
            await stream.writeSSE({ event: "build", data: JSON.stringify(ids) });
            continue;
          }
          let heartbeat: NodeJS.Timeout | undefined;
          const signal = new Promise<void>((resolve) => {
            wake = resolve;
            heartbeat = setTimeout(resolve, HEARTBEAT_MS);
            heartbeat.unref();
          });
          await signal;
          clearTimeout(heartbeat);
          wake = undefined;
          if (open && changed.size === 0) await stream.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
