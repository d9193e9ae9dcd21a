import { Probot, ProbotOctokit } from "probot";
import type { Logger } from "pino";
import type { GithubAppConfig } from "../config.js";

/** Every GitHub request (installation tokens included) fails after this long without an answer. */
export const GITHUB_CALL_DEADLINE_MS = 10_000;

/**
 * A rate limit that asks for a longer wait than this is not waited out in place: the request
 * fails, and the worker gives its row back with GitHub's time (a sleep in place would outlast
 * the row's lease, and hold up every other row behind it).
 */
export const GITHUB_IN_PLACE_WAIT_SECONDS = 3;

/**
 * `fetch` with a deadline of its own for each request. Octokit has no time-out option, and one
 * signal in its defaults would expire once, for every later request too.
 */
export function createTimedFetch(deadlineMs: number): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return fetch(input, { ...init, signal });
  };
}

/**
 * Probot's Octokit as Runboard runs it: throttling on (it spaces writes and limits concurrency
 * as GitHub asks), but a rate limit is never slept out by the plugin: the request fails with
 * GitHub's headers and the installation's client (github-clients.ts) pauses every request of
 * that installation, waiting in place only up to GITHUB_IN_PLACE_WAIT_SECONDS. A 5xx or a
 * network error is retried once in place.
 */
export function createRunboardOctokit(): typeof ProbotOctokit {
  // A function, not an object: Probot passes its own throttle options (which retry a rate limit
  // twice, sleeping until the reset) to every client it builds, and those would replace plain
  // defaults. These handlers are set last, on the app's client and on each installation's.
  return ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0] = {}) => ({
    ...options,
    throttle: {
      ...options.throttle,
      enabled: options.throttle?.enabled ?? true,
      onRateLimit: () => false,
      onSecondaryRateLimit: () => false,
    },
    retry: { ...options.retry, enabled: true, retries: 1 },
  }));
}

/**
 * A Probot instance for the registered GitHub App, with the project's logger and a deadline on
 * every request.
 * @param Octokit tests may pass one with retries and throttling off.
 */
export function createProbot(
  github: GithubAppConfig,
  log: Logger,
  Octokit: typeof ProbotOctokit = createRunboardOctokit(),
  deadlineMs: number = GITHUB_CALL_DEADLINE_MS,
): Probot {
  return new Probot({
    appId: github.appId,
    privateKey: github.privateKey,
    secret: github.webhookSecret,
    baseUrl: github.apiBaseUrl,
    log: log.child({ name: "probot" }),
    Octokit,
    request: { fetch: createTimedFetch(deadlineMs) },
  });
}
