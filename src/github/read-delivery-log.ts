import type { Logger } from "pino";
import { z } from "zod";
import type { RedeliveryScan } from "../db/redelivery-scan.js";
import type { Octokit } from "./github-clients.js";

/** The events whose loss Runboard feels: runs, jobs, and installation state. */
export const REDELIVERED_EVENTS: ReadonlySet<string> = new Set(["workflow_run", "workflow_job", "installation"]);

/** One entry of `GET /app/hook/deliveries`, as far as it is read here. */
const hookDelivery = z.object({
  id: z.number(),
  guid: z.string(),
  delivered_at: z.string(),
  redelivery: z.boolean(),
  status_code: z.number(),
  event: z.string(),
  action: z.string().nullish(),
  installation_id: z.number().nullish(),
  repository_id: z.number().nullish(),
});
export type HookDelivery = z.infer<typeof hookDelivery>;

/** Where the walk of the log ended this pass. */
type WalkEnd =
  /** At the floor, the window or the log's end: the next walk starts from the newest entry. */
  | { kind: "finished" }
  /** Out of pages, or a page failed: the next pass resumes at `cursor`. */
  | { kind: "paused"; cursor: string | null }
  /** GitHub refused the remembered cursor: the next walk starts over from the newest entry. */
  | { kind: "restart" };

export interface Walk {
  entries: HookDelivery[];
  /** The newest entry of the walk, which becomes the floor once the walk finishes. */
  top: number | null;
  end: WalkEnd;
}

export const succeeded = (d: HookDelivery) => d.status_code >= 200 && d.status_code < 300;

/** The `cursor` of the Link header's rel="next" page, or null on the last page. */
export function nextCursor(link: string | undefined): string | null {
  for (const part of (link ?? "").split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (match) return new URL(match[1]!, "https://api.github.com").searchParams.get("cursor");
  }
  return null;
}

interface WalkOptions {
  log: Logger;
  now: Date;
  maxPages: number;
  perPage: number;
  windowMs: number;
  settleMs: number;
}

/**
 * Reads the app's delivery log newest first, page by page with GitHub's cursor, down to the
 * entries an earlier finished walk read (the scan's floor) or the edge of `windowMs`, at most
 * `maxPages` pages; a walk that runs out of pages resumes at its cursor next time. Entries
 * younger than `settleMs` are left for a later walk.
 */
export async function readDeliveryLog(octokit: Octokit, scan: RedeliveryScan, options: WalkOptions): Promise<Walk> {
  const { log, maxPages, perPage, windowMs, settleMs } = options;
  const now = options.now.getTime();
  const resumed = scan.walk_top_id !== null;
  let cursor = resumed ? scan.walk_cursor : null;
  let top = resumed ? scan.walk_top_id : null;
  const entries: HookDelivery[] = [];
  for (let page = 0; page < maxPages; page++) {
    let response;
    try {
      response = await octokit.request("GET /app/hook/deliveries", { per_page: perPage, ...(cursor ? { cursor } : {}) });
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (resumed && page === 0 && cursor && (status === 400 || status === 422)) {
        log.warn({ cursor, status }, "GitHub refused the remembered position in the delivery log; the next pass reads it again from the newest entry");
        return { entries, top, end: { kind: "restart" } };
      }
      log.warn({ err: error }, "GitHub's delivery log could not be read; the next pass resumes where this one stopped");
      return { entries, top, end: { kind: "paused", cursor } };
    }
    for (const delivery of z.array(hookDelivery).parse(response.data)) {
      const at = Date.parse(delivery.delivered_at);
      if ((scan.floor_id !== null && delivery.id <= scan.floor_id) || at < now - windowMs) {
        return { entries, top, end: { kind: "finished" } };
      }
      // Left above the walk's top, so the next walk reads it once it has settled.
      if (at > now - settleMs) continue;
      top ??= delivery.id;
      entries.push(delivery);
    }
    cursor = nextCursor(response.headers.link);
    if (!cursor) return { entries, top, end: { kind: "finished" } };
  }
  return { entries, top, end: { kind: "paused", cursor } };
}

/**
 * The newest failed attempt of each guid of a recorded event with no successful attempt among
 * the entries read, oldest first: the nearest to leaving GitHub's window goes first.
 */
export function failedGuids(entries: HookDelivery[]): HookDelivery[] {
  const relevant = entries.filter((d) => REDELIVERED_EVENTS.has(d.event));
  const delivered = new Set(relevant.filter(succeeded).map((d) => d.guid));
  const failed = new Map<string, HookDelivery>();
  for (const d of relevant) {
    if (!succeeded(d) && !delivered.has(d.guid) && !failed.has(d.guid)) failed.set(d.guid, d);
  }
  return [...failed.values()].sort((a, b) => a.id - b.id);
}
