/**
 * The cost in GitHub requests of the history import on install and of the poller: runs
 * imported per list request (beside 100, the most one page can hold), the requests for the
 * jobs of failed runs counted apart, the time, and what is left of the installation's hourly
 * budget; then the requests counted against the rate limit by a poll of idle repositories
 * (beside the same poll without ETags). GitHub is stood in by a local server answering like
 * its REST API (the GHE_HOST / GHE_PROTOCOL=http route), with rate-limit headers.
 *
 *   npx tsx bench/poll.bench.ts
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../src/config.js";
import { createPool } from "../src/db/create-pool.js";
import { createProbot } from "../src/github/create-probot.js";
import { createGithubClients } from "../src/github/github-clients.js";
import { createHistoryImport } from "../src/github/history-import.js";
import { createRunLister } from "../src/github/list-runs.js";
import { createPoller } from "../src/github/poller.js";
import { createIngest } from "../src/ingest.js";
import { sql } from "slonik";
import { z } from "zod";
import { runPayload } from "../test/helpers/seed-builds.js";
import { quietLog, table, withBenchDatabase } from "./support.js";
import { upsertInstallation } from "../src/db/installations.js";
import { upsertSyncRepository } from "../src/db/sync-repositories.js";

const REPOS = 5;
const RUNS_PER_REPO = 1_000;
const NOW = new Date();

const repos = Array.from({ length: REPOS }, (_, r) => {
  const full_name = `acme/service-${r}`;
  const runs = Array.from({ length: RUNS_PER_REPO }, (_, i) => {
    const createdAt = new Date(NOW.getTime() - 20 * 86_400_000 + i * 60_000 * 25);
    // One run in ten fails: its jobs are read too.
    const conclusion = i % 10 === 3 ? "failure" : "success";
    return {
      ...runPayload({ id: (r + 1) * 1_000_000 + i, repository: full_name, workflow: "CI", branch: "main", conclusion, createdAt, seconds: 90, actor: "mona", message: `run ${i}` }).workflow_run,
      repository: { id: 9000 + r, full_name },
    };
  });
  return { id: 9000 + r, full_name, runs };
});

const FAILED_RUNS = repos.reduce((n, r) => n + r.runs.filter((run) => run.conclusion === "failure").length, 0);
const RATE_LIMIT = 5_000;
let counted = 0;
let jobRequests = 0;
let notModified = 0;
let useEtags = true;

/** GitHub's REST API for the calls the poller makes, on loopback. */
const github = createServer((req, res) => {
  const url = new URL(req.url!, "http://localhost");
  const path = url.pathname.replace(/^\/api\/v3/, "");
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (status !== 304) counted += 1;
    res.writeHead(status, {
      "content-type": "application/json",
      "x-ratelimit-limit": String(RATE_LIMIT),
      "x-ratelimit-remaining": String(RATE_LIMIT - counted),
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3_600),
      ...headers,
    });
    res.end(status === 304 ? undefined : JSON.stringify(body));
  };
  if (req.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
    counted -= 1; // token requests do not count against the installation's limit
    return json(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3_600_000).toISOString() });
  }
  if (path === "/app/installations") return json(200, [{ id: 1, account: { login: "acme" } }]);
  if (path === "/installation/repositories") {
    return json(200, { total_count: REPOS, repositories: repos.map((r) => ({ id: r.id, full_name: r.full_name, default_branch: "main" })) });
  }
  const jobs = /^\/repos\/acme\/[\w-]+\/actions\/runs\/(\d+)\/attempts\/\d+\/jobs$/.exec(path);
  if (jobs) {
    jobRequests += 1;
    const runId = Number(jobs[1]);
    const run = repos.flatMap((r) => r.runs).find((r) => r.id === runId)!;
    const job = (name: string, conclusion: string) => ({
      id: runId * 10 + (name === "lint" ? 1 : 2), run_id: runId, run_attempt: 1, name, status: "completed", conclusion,
      created_at: run.created_at, started_at: run.created_at, completed_at: run.updated_at, head_sha: run.head_sha,
      labels: ["ubuntu-latest"], steps: [{ name: "Run tests", status: "completed", conclusion, number: 1, started_at: run.created_at, completed_at: run.updated_at }],
      html_url: `https://github.com/${run.repository.full_name}/actions/runs/${runId}/job/${runId * 10}`,
    });
    return json(200, { total_count: 2, jobs: [job("lint", "success"), job("test", "failure")] });
  }
  const match = /^\/repos\/(acme\/[\w-]+)\/actions\/runs$/.exec(path);
  if (match) {
    const repo = repos.find((r) => r.full_name === match[1])!;
    const created = url.searchParams.get("created")!;
    const [fromText, toText] = created.startsWith(">=") ? [created.slice(2), null] : created.split("..");
    const from = new Date(fromText!).getTime();
    const to = toText ? new Date(toText).getTime() : Infinity;
    const matching = repo.runs
      .filter((r) => new Date(r.created_at).getTime() >= from && new Date(r.created_at).getTime() <= to)
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    const etag = `W/"${repo.full_name}:${created}:${matching.length}"`;
    if (useEtags && req.headers["if-none-match"] === etag) {
      notModified += 1;
      return json(304, null);
    }
    const page = Number(url.searchParams.get("page") ?? 1);
    const offset = (page - 1) * 100;
    return json(200, { total_count: matching.length, workflow_runs: offset >= 1000 ? [] : matching.slice(offset, Math.min(offset + 100, 1000)) }, useEtags ? { etag } : {});
  }
  json(404, { message: "Not Found" });
});

await new Promise<void>((resolve) => github.listen(0, "127.0.0.1", resolve));
const port = (github.address() as AddressInfo).port;

await withBenchDatabase("poll", async (uri) => {
  const pool = await createPool(uri);
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const config = loadConfig({ APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: "s", GHE_HOST: `127.0.0.1:${port}`, GHE_PROTOCOL: "http" });
  const probot = createProbot(config.github!, quietLog);
  const ingest = createIngest({ pool, alerting: { email: null, slack: null, now: () => NOW, sendDelayMs: 0 } });
  const clients = createGithubClients({ getProbot: () => probot, log: quietLog });
  const lister = createRunLister({ pool, ingest, log: quietLog });
  const common = { pool, connectionUri: uri, github: clients, lister, log: quietLog, now: () => NOW };
  const poller = createPoller({ ...common, intervalSeconds: 0, jitterSeconds: 0 });
  const history = createHistoryImport({ ...common, days: 30 });
  try {
    // As an installation event leaves it: the installation and its repositories known, none imported.
    await upsertInstallation(pool, 1, "acme");
    for (const repo of repos) await upsertSyncRepository(pool, { id: repo.id, installationId: 1, fullName: repo.full_name, defaultBranch: "main" });
    counted = 0;
    const started = performance.now();
    await history.runOnce();
    const importSeconds = (performance.now() - started) / 1000;
    const imported = history.lastStats();
    const importRequests = counted;
    const listRequests = importRequests - jobRequests;
    const left = clients.budget(1);
    const stored = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM builds`);

    // The first incremental poll settles each repository's cursor; the next ones find nothing new.
    await poller.pollOnce();
    counted = 0;
    notModified = 0;
    await poller.pollOnce();
    const idleWithEtags = counted;
    const idleNotModified = notModified;
    useEtags = false;
    counted = 0;
    await poller.pollOnce();
    const idleWithout = counted;

    console.log(`## History import and poller

${REPOS} repositories with ${RUNS_PER_REPO.toLocaleString("en")} runs each over 20 days, GitHub stood in on loopback.
One run in ten failed. The import reads each repository's 30 days as one query, split only
where it holds more than 1,000 runs, and the jobs of each failed run.

${table(
  ["", "Runboard", "Baseline", "Target"],
  [
    ["History import: runs imported per list request", (imported.runsChanged / listRequests).toFixed(1), "100 (a full page)", "≥ 95 on full pages"],
    ["History import: list requests / job requests", `${listRequests} / ${jobRequests}`, `${Math.ceil((REPOS * RUNS_PER_REPO) / 100)} / ${FAILED_RUNS} (one page per 100 runs, one per failed run)`, ""],
    ["History import: runs stored", stored.toLocaleString("en"), (REPOS * RUNS_PER_REPO).toLocaleString("en"), "all"],
    ["History import: time", `${importSeconds.toFixed(1)} s`, "", ""],
    ["History import: requests left of the hourly budget", left ? `${left.remaining.toLocaleString("en")} of ${left.limit.toLocaleString("en")}` : "?", "", "≥ 20% kept for live work"],
    ["Idle poll: requests counted against the rate limit", String(idleWithEtags - 2), `${idleWithout - 2} (same poll without ETags)`, "0"],
    ["Idle poll: free 304 answers", String(idleNotModified), "0", ""],
  ],
)}

Requests counted exclude the two app-level calls every pass makes (list installations, list an
installation's repositories), which no ETag can save.
`);
  } finally {
    await pool.end();
    github.close();
  }
});
