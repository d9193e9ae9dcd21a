import { never, startGithubStandIn, type GithubAnswer, type GithubCall } from "../test/helpers/github-stand-in.js";

/** The request counted for each method; the stand-in serves nothing else. */
const KINDS = { GET: "find", POST: "create", PATCH: "update" } as const;

/** One check run as the stand-in keeps it: the summary is the last one written to it. */
interface StoredCheckRun {
  id: number;
  name: string;
  headSha: string;
  summary: string;
  writes: number;
}

/** A commit whose runs were delivered, and the workflows its check run should list. */
export interface DeliveredCommit {
  repository: string;
  sha: string;
  workflows: string[];
}

/** How the commits' check runs ended at the stand-in. */
export interface CheckRunTally {
  /** Exactly one check run, whose last summary lists every workflow of the commit. */
  correct: number;
  /** No check run at all. */
  missing: number;
  /** One check run, but its last summary misses a workflow. */
  stale: number;
  /** More than one check run on the commit. */
  duplicated: number;
}

export interface ChecksStandIn {
  /** For GHE_HOST: host:port (GHE_PROTOCOL=http). */
  host: string;
  /** Requests by kind; token requests are not counted. */
  requests: { find: number; create: number; update: number };
  tally(commits: DeliveredCommit[]): CheckRunTally;
  stop(): Promise<void>;
}

/**
 * GitHub's Checks API as the check-run worker uses it (find by name on a commit, create,
 * update), on loopback under the GHE_HOST route's `/api/v3`. Check runs are kept per commit as
 * GitHub keeps them, so a find returns what was created. A request changes the state when it
 * arrives and is answered `delayMs` later, as on GitHub, where a request whose answer is lost
 * may still have been applied. `delayMs: null`: connections are accepted and never answered.
 * Installation tokens are granted at once either way, so the worker always gets as far as the
 * check-run calls.
 */
export async function startChecksStandIn(options: { delayMs: number | null }): Promise<ChecksStandIn> {
  const byCommit = new Map<string, StoredCheckRun[]>();
  const byId = new Map<number, { commit: string; run: StoredCheckRun }>();
  const requests = { find: 0, create: 0, update: 0 };
  let nextId = 1;
  const commitKey = (repository: string, sha: string) => `${repository}@${sha}`;

  function answer(call: GithubCall): GithubAnswer {
    const url = new URL(call.path, "http://stand-in");
    const path = url.pathname.replace(/^\/api\/v3/, "");
    let match: RegExpExecArray | null;
    if (call.method === "GET" && (match = /^\/repos\/([^/]+\/[^/]+)\/commits\/([^/]+)\/check-runs$/.exec(path))) {
      const name = url.searchParams.get("check_name");
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const runs = (byCommit.get(commitKey(match[1]!, match[2]!)) ?? []).filter((run) => name === null || run.name === name);
      const newestFirst = [...runs].sort((a, b) => b.id - a.id);
      return {
        status: 200,
        body: { total_count: runs.length, check_runs: newestFirst.slice(0, perPage).map((run) => ({ id: run.id, name: run.name, head_sha: run.headSha })) },
      };
    }
    if (call.method === "POST" && (match = /^\/repos\/([^/]+\/[^/]+)\/check-runs$/.exec(path))) {
      const run: StoredCheckRun = { id: nextId++, name: call.body.name, headSha: call.body.head_sha, summary: call.body.output?.summary ?? "", writes: 1 };
      const commit = commitKey(match[1]!, run.headSha);
      byCommit.set(commit, [...(byCommit.get(commit) ?? []), run]);
      byId.set(run.id, { commit, run });
      return { status: 201, body: { id: run.id, name: run.name, head_sha: run.headSha } };
    }
    if (call.method === "PATCH" && (match = /^\/repos\/([^/]+\/[^/]+)\/check-runs\/(\d+)$/.exec(path))) {
      const found = byId.get(Number(match[2]));
      if (!found || !found.commit.startsWith(`${match[1]!}@`)) return { status: 404, body: { message: "Not Found" } };
      if (call.body.output?.summary !== undefined) found.run.summary = call.body.output.summary;
      found.run.writes += 1;
      return { status: 200, body: { id: found.run.id, name: found.run.name, head_sha: found.run.headSha } };
    }
    return { status: 404, body: { message: "Not Found" } };
  }

  const github = await startGithubStandIn(async (call) => {
    // The test helper grants tokens on its own only without the /api/v3 prefix.
    if (call.method === "POST" && /^\/api\/v3\/app\/installations\/\d+\/access_tokens$/.test(call.path)) {
      return { status: 201, body: { token: "ghs_bench", expires_at: "2099-01-01T00:00:00Z", permissions: { checks: "write" } } };
    }
    const method = call.method as keyof typeof KINDS;
    if (method in KINDS) requests[KINDS[method]] += 1;
    if (options.delayMs === null) return never();
    const result = answer(call);
    await new Promise((resolve) => setTimeout(resolve, options.delayMs!));
    return result;
  });

  return {
    host: new URL(github.apiUrl).host,
    requests,
    tally(commits) {
      const tally: CheckRunTally = { correct: 0, missing: 0, stale: 0, duplicated: 0 };
      for (const commit of commits) {
        const runs = byCommit.get(commitKey(commit.repository, commit.sha)) ?? [];
        if (runs.length === 0) tally.missing += 1;
        else if (runs.length > 1) tally.duplicated += 1;
        // A workflow is listed as a table row that links its name.
        else if (commit.workflows.every((workflow) => runs[0]!.summary.includes(`| [${workflow}](`))) tally.correct += 1;
        else tally.stale += 1;
      }
      return tally;
    },
    stop: () => github.stop(),
  };
}
