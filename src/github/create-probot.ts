import { Probot, ProbotOctokit } from "probot";
import type { Logger } from "pino";
import type { GithubAppConfig } from "../config.js";

/**
 * A Probot instance for the registered GitHub App, with the project's logger.
 * @param Octokit tests pass `ProbotOctokit.defaults(...)` with retries and throttling off.
 */
export function createProbot(github: GithubAppConfig, log: Logger, Octokit: typeof ProbotOctokit = ProbotOctokit): Probot {
  return new Probot({
    appId: github.appId,
    privateKey: github.privateKey,
    secret: github.webhookSecret,
    baseUrl: github.apiBaseUrl,
    log: log.child({ name: "probot" }),
    Octokit,
  });
}
