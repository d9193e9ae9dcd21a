import type { Logger } from "pino";
import type { Probot } from "probot";
import { GITHUB_IN_PLACE_WAIT_SECONDS } from "./create-probot.js";

export type Octokit = Awaited<ReturnType<Probot["auth"]>>;

/** GitHub asks to wait at least a minute after a secondary rate limit that names no time. */
const SECONDARY_LIMIT_WAIT_MS = 60_000;

/** The parts of Octokit's RequestError read here. */
interface HttpError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

/**
 * An installation's requests are paused until `until` (a rate limit): the caller gives its work
 * back with that time instead of waiting (inside a lease, a lock or a transaction).
 */
export class InstallationPausedError extends Error {
  override name = "InstallationPausedError";
  constructor(
    readonly installationId: number | "app",
    readonly until: Date,
    /** How long from the moment it was thrown: callers on another clock add it to theirs. */
    readonly waitMs: number,
    options?: { cause?: unknown },
  ) {
    super(`GitHub rate limit: requests of ${installationId === "app" ? "the app" : `installation ${installationId}`} wait until ${until.toISOString()}`, options);
  }
}

/** Until when GitHub asked us to stop (Retry-After, an exhausted quota's reset), if it did. */
export function rateLimitedUntil(error: unknown, nowMs: number): Date | null {
  const e = (typeof error === "object" && error !== null ? error : {}) as HttpError;
  if (e.status !== 403 && e.status !== 429) return null;
  const headers = e.response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (retryAfter > 0) return new Date(nowMs + retryAfter * 1000);
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    return new Date(Math.max(reset || 0, nowMs + 1000));
  }
  if (e.status === 429 || /secondary rate limit/i.test(e.message ?? "")) return new Date(nowMs + SECONDARY_LIMIT_WAIT_MS);
  return null;
}

/** What GitHub last said of an installation's quota. */
export interface Budget {
  remaining: number;
  limit: number;
  resetAt: Date;
}

export interface GithubClients {
  /** The app's own client (JWT): installations, the webhook delivery log. Null without an app. */
  app(): Promise<Octokit | null>;
  /** An installation's client: every request honours and records the installation's rate limits. */
  installation(installationId: number): Promise<Octokit>;
  /** Whether a GitHub App is configured. */
  ready(): boolean;
  /** The installation's quota as its last answer gave it, if any. */
  budget(installationId: number): Budget | null;
  /** Until when the installation's requests wait, if they do. */
  pausedUntil(installationId: number): Date | null;
}

/**
 * The one owner of Runboard's calls to GitHub's REST API: it hands out the app's and each
 * installation's clients (Probot's, with a deadline on every request) and keeps each
 * installation's rate-limit state. A rate limit met by any caller (poller, history import,
 * check runs, re-runs) pauses every request of that installation until GitHub's time: a pause
 * of up to GITHUB_IN_PLACE_WAIT_SECONDS is waited out in place, a longer one fails the request
 * with InstallationPausedError so that the caller gives its work back with that time.
 * Pauses are kept on the process's clock (GitHub's reset times are wall-clock times).
 */
export function createGithubClients(deps: {
  getProbot: () => Probot | null;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
  inPlaceWaitMs?: number;
  /** Told the remaining requests of every answer that says (the metrics' gauge). */
  onRemaining?: (remaining: number) => void;
}): GithubClients {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const clock = deps.clock ?? Date.now;
  const inPlaceWaitMs = deps.inPlaceWaitMs ?? GITHUB_IN_PLACE_WAIT_SECONDS * 1000;
  const paused = new Map<number | "app", number>();
  const budgets = new Map<number, Budget>();
  const log = deps.log.child({ name: "github" });

  function pause(id: number | "app", until: Date) {
    if ((paused.get(id) ?? 0) < until.getTime()) {
      paused.set(id, until.getTime());
      log.warn({ installationId: id, until: until.toISOString() }, "GitHub rate limit: this installation's requests wait until then");
    }
  }

  /** Waits out a short pause, or throws for a long one. */
  async function honourPause(id: number | "app") {
    const until = paused.get(id);
    if (until === undefined) return;
    const wait = until - clock();
    if (wait <= 0) {
      paused.delete(id);
      return;
    }
    if (wait > inPlaceWaitMs) throw new InstallationPausedError(id, new Date(until), wait);
    await waitOut(id, until, wait);
  }

  /** Sleeps until `until`; the pause is over then, unless a later one came meanwhile. */
  async function waitOut(id: number | "app", until: number, wait: number) {
    await sleep(wait);
    if (paused.get(id) === until) paused.delete(id);
  }

  function guard(octokit: Octokit, id: number | "app"): Octokit {
    octokit.hook.wrap("request", async (request, options) => {
      for (let attempt = 0; ; attempt++) {
        // A retry has waited its pause already.
        if (attempt === 0) await honourPause(id);
        try {
          const response = await request(options);
          record(id, response.headers as Record<string, string | number | undefined>);
          return response;
        } catch (error) {
          const headers = (error as HttpError).response?.headers;
          if (headers) record(id, headers);
          const at = clock();
          const until = rateLimitedUntil(error, at);
          if (!until) throw error;
          pause(id, until);
          // One retry after a short pause; a long one is the caller's to schedule.
          const wait = until.getTime() - at;
          if (attempt > 0 || wait > inPlaceWaitMs) throw new InstallationPausedError(id, until, wait, { cause: error });
          await waitOut(id, until.getTime(), wait);
        }
      }
    });
    return octokit;
  }

  function record(id: number | "app", headers: Record<string, string | number | undefined>) {
    const remaining = Number(headers["x-ratelimit-remaining"]);
    const limit = Number(headers["x-ratelimit-limit"]);
    const reset = Number(headers["x-ratelimit-reset"]);
    if (headers["x-ratelimit-remaining"] === undefined || !Number.isFinite(remaining)) return;
    deps.onRemaining?.(remaining);
    if (id === "app") return;
    budgets.set(id, {
      remaining,
      limit: Number.isFinite(limit) && limit > 0 ? limit : Math.max(remaining, budgets.get(id)?.limit ?? 0),
      resetAt: Number.isFinite(reset) ? new Date(reset * 1000) : new Date(clock() + 3_600_000),
    });
  }

  return {
    ready: () => deps.getProbot() !== null,
    async app() {
      const probot = deps.getProbot();
      return probot ? guard(await probot.auth(), "app") : null;
    },
    async installation(installationId) {
      const probot = deps.getProbot();
      if (!probot) throw new Error("no GitHub App configured");
      return guard(await probot.auth(installationId), installationId);
    },
    budget: (installationId) => budgets.get(installationId) ?? null,
    pausedUntil(installationId) {
      const until = paused.get(installationId);
      return until !== undefined && until > clock() ? new Date(until) : null;
    },
  };
}
