import { createRequire } from "node:module";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { jobPayload, runPayload, type SeedRun } from "./seed-builds.js";

const require = createRequire(import.meta.url);

/** GitHub answers at most this many runs for one query, whatever the paging. */
const RESULT_CAP = 1_000;

export interface ActionsCall {
  /** The Authorization header sent, if any. */
  authorization: string | null;
  method: string;
  /** Without GitHub Enterprise's `/api/v3` prefix. */
  path: string;
  query: URLSearchParams;
  body: any;
  /** The installation whose token made the request; null for the app's own (JWT) requests. */
  installationId: number | null;
  /** Arrival, in Date.now() milliseconds. */
  at: number;
  /** The installation's remaining requests its answer reported. */
  remaining?: number;
}

/** One request for a page of a repository's run listing. */
export interface ListCall {
  repository: string;
  created: string;
  from: Date;
  /** null for an open `>=` range. */
  to: Date | null;
  page: number;
  status: number;
  at: number;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent as it is instead of the JSON of `body` (a log). */
  raw?: string | Buffer;
}

/** A job's log as GitHub keeps it. */
export interface StandInLog {
  body: string | Buffer;
  /** The log request answers 404 this many times first (GitHub still storing it). */
  notReadyTimes?: number;
  /** The log expired: 410. */
  gone?: boolean;
}

export interface StandInRepository {
  id: number;
  full_name: string;
  default_branch: string;
  /** GitHub's run objects. */
  runs: any[];
}

/**
 * Decides a request before the stand-in does: an answer replaces the stand-in's; undefined lets
 * it answer. A promise holds the request until it settles (a slow or stuck GitHub).
 */
export type Intercept = (call: ActionsCall) => Answer | undefined | Promise<Answer | undefined>;

export interface ActionsStandIn {
  /** For a Probot `baseUrl` (github.com layout): http://127.0.0.1:port */
  apiUrl: string;
  /** For GHE_HOST (with GHE_PROTOCOL=http): 127.0.0.1:port; requests then come under /api/v3. */
  host: string;
  installationId: number;
  account: string;
  repositories: StandInRepository[];
  /** Jobs by run id, as GitHub lists them for a run's attempt. */
  jobs: Map<number, any[]>;
  /** Annotations by check run id, as GitHub lists them. */
  annotations: Map<number, any[]>;
  /** Job logs by job id: the log request redirects to a short-lived address serving the body. */
  logs: Map<number, StandInLog>;
  /** Every request but installation tokens, in order of arrival. */
  calls: ActionsCall[];
  /** The installation's REST quota (tests may set it); each of its answered requests but a 304 uses one. */
  budget: { limit: number; remaining: number; reset: number };
  intercept: Intercept | null;
  listCalls(repository?: string): ListCall[];
  /** Run ids whose jobs were read, in order. */
  jobReads(): number[];
  /** The check-run writes (POST and PATCH) GitHub received. */
  checkRunWrites(): ActionsCall[];
  stop(): Promise<void>;
}

/**
 * GitHub's REST API for GitHub Actions, stood in on loopback as the real one behaves: the run
 * listing filters by its `created` range (`A..B` or `>=A`), is ordered newest first, pages by
 * `per_page`, reports the full `total_count` but serves at most 1,000 runs per query; every
 * answer carries the installation's rate-limit headers. Also serves installation tokens, the
 * app's installations, the installation's repositories, single runs, a run's jobs and check runs.
 * Works under GHE_HOST (`/api/v3` prefix) and as a plain `baseUrl`.
 */
export async function startActionsStandIn(options: { installationId?: number; account?: string } = {}): Promise<ActionsStandIn> {
  const installationId = options.installationId ?? 4242;
  const account = options.account ?? "acme";
  const sockets = new Set<Socket>();
  let checkRunIds = 0;
  const listCalls: ListCall[] = [];

  const standIn: ActionsStandIn = {
    apiUrl: "",
    host: "",
    installationId,
    account,
    repositories: [],
    jobs: new Map(),
    annotations: new Map(),
    logs: new Map(),
    calls: [],
    budget: { limit: 5_000, remaining: 5_000, reset: Math.floor(Date.now() / 1000) + 3_600 },
    intercept: null,
    listCalls: (repository) => listCalls.filter((c) => !repository || c.repository === repository),
    jobReads: () =>
      standIn.calls.flatMap((c) => {
        const m = /\/actions\/runs\/(\d+)\/attempts\/\d+\/jobs$/.exec(c.path);
        return m ? [Number(m[1])] : [];
      }),
    checkRunWrites: () => standIn.calls.filter((c) => c.method !== "GET" && c.path.includes("/check-runs")),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  function rateHeaders(): Record<string, string> {
    const { budget } = standIn;
    return {
      "x-ratelimit-limit": String(budget.limit),
      "x-ratelimit-remaining": String(budget.remaining),
      "x-ratelimit-reset": String(budget.reset),
      "x-ratelimit-used": String(budget.limit - budget.remaining),
      "x-ratelimit-resource": "core",
    };
  }

  function repositoryOf(owner: string, name: string) {
    return standIn.repositories.find((r) => r.full_name === `${owner}/${name}`);
  }

  function listRuns(repo: StandInRepository, query: URLSearchParams): Answer {
    const created = query.get("created") ?? "";
    const [fromText, toText] = created.startsWith(">=") ? [created.slice(2), null] : created.includes("..") ? created.split("..") : ["1970-01-01T00:00:00Z", null];
    const from = new Date(fromText!).getTime();
    const to = toText ? new Date(toText).getTime() : Infinity;
    const matching = repo.runs
      .filter((r) => new Date(r.created_at).getTime() >= from && new Date(r.created_at).getTime() <= to)
      .sort((a, b) => new Date(b.created_at).getTime() - new Date(a.created_at).getTime());
    const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
    const offset = (Number(query.get("page") ?? 1) - 1) * perPage;
    const served = offset >= RESULT_CAP ? [] : matching.slice(offset, Math.min(offset + perPage, RESULT_CAP));
    return { status: 200, body: { total_count: matching.length, workflow_runs: served } };
  }

  function answer(call: ActionsCall): Answer {
    const p = call.path;
    let m: RegExpExecArray | null;
    if (call.method === "GET" && p === "/app/installations") {
      return { status: 200, body: [{ id: installationId, account: { login: account }, suspended_at: null }] };
    }
    if (call.method === "GET" && p === "/installation/repositories") {
      const repositories = standIn.repositories.map((r) => ({ id: r.id, full_name: r.full_name, name: r.full_name.split("/")[1], default_branch: r.default_branch }));
      return { status: 200, body: { total_count: repositories.length, repositories } };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs$/.exec(p)) && call.method === "GET") {
      const repo = repositoryOf(m[1]!, m[2]!);
      return repo ? listRuns(repo, call.query) : { status: 404, body: { message: "Not Found" } };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(p)) && call.method === "GET") {
      const run = repositoryOf(m[1]!, m[2]!)?.runs.find((r) => r.id === Number(m![3]));
      return run ? { status: 200, body: run } : { status: 404, body: { message: "Not Found" } };
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/actions\/runs\/(\d+)\/attempts\/\d+\/jobs$/.exec(p)) && call.method === "GET") {
      const jobs = standIn.jobs.get(Number(m[1])) ?? [];
      return { status: 200, body: { total_count: jobs.length, jobs } };
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/check-runs\/(\d+)\/annotations$/.exec(p)) && call.method === "GET") {
      const annotations = standIn.annotations.get(Number(m[1]));
      if (!annotations) return { status: 404, body: { message: "Not Found" } };
      const perPage = Math.min(Number(call.query.get("per_page") ?? 30), 50);
      const offset = (Number(call.query.get("page") ?? 1) - 1) * perPage;
      return { status: 200, body: annotations.slice(offset, offset + perPage) };
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/actions\/jobs\/(\d+)\/logs$/.exec(p)) && call.method === "GET") {
      const log = standIn.logs.get(Number(m[1]));
      if (log?.gone) return { status: 410, body: { message: "Gone" } };
      if (!log || (log.notReadyTimes ?? 0) > 0) {
        if (log) log.notReadyTimes! -= 1;
        return { status: 404, body: { message: "Not Found" } };
      }
      // As GitHub: a redirect to a signed address that serves the log, no token needed.
      return { status: 302, raw: "", headers: { location: `${standIn.apiUrl}/_logs/jobs/${m[1]}?sig=short-lived` } };
    }
    if ((m = /^\/_logs\/jobs\/(\d+)$/.exec(p)) && call.method === "GET") {
      const log = standIn.logs.get(Number(m[1]));
      if (!log || call.query.get("sig") !== "short-lived") return { status: 404, raw: "BlobNotFound" };
      return { status: 200, raw: log.body, headers: { "content-type": "text/plain; charset=utf-8" } };
    }
    if (/^\/repos\/[^/]+\/[^/]+\/commits\/[^/]+\/check-runs$/.test(p) && call.method === "GET") {
      return { status: 200, body: { total_count: 0, check_runs: [] } };
    }
    if (/^\/repos\/[^/]+\/[^/]+\/check-runs$/.test(p) && call.method === "POST") {
      checkRunIds += 1;
      return { status: 201, body: { id: checkRunIds, ...call.body } };
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/check-runs\/(\d+)$/.exec(p)) && call.method === "PATCH") {
      return { status: 200, body: { id: Number(m[1]), ...call.body } };
    }
    return { status: 404, body: { message: "Not Found" } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, data: string) {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const pathname = url.pathname.replace(/^\/api\/v3(?=\/)/, "");
    const token = /^token ghs_installation_(\d+)$/.exec(req.headers.authorization ?? "");
    const send = (a: Answer) => {
      if (res.destroyed) return;
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(a.raw ?? (a.body === undefined ? "" : JSON.stringify(a.body)));
    };
    const tokenFor = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(pathname);
    if (tokenFor && req.method === "POST") {
      send({ status: 201, body: { token: `ghs_installation_${tokenFor[1]}`, expires_at: "2099-01-01T00:00:00Z", permissions: { actions: "read", checks: "write" } } });
      return;
    }
    const call: ActionsCall = {
      authorization: req.headers.authorization ?? null,
      method: req.method ?? "GET",
      path: pathname,
      query: url.searchParams,
      body: data ? JSON.parse(data) : undefined,
      installationId: token ? Number(token[1]) : null,
      at: Date.now(),
    };
    standIn.calls.push(call);
    const listed = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs$/.exec(pathname);
    const overridden = await standIn.intercept?.(call);
    const result = overridden ?? answer(call);
    // App (JWT) requests have a quota of their own.
    if (result.status !== 304 && call.installationId !== null) standIn.budget.remaining = Math.max(0, standIn.budget.remaining - 1);
    call.remaining = standIn.budget.remaining;
    if (listed) {
      const created = url.searchParams.get("created") ?? "";
      const [from, to] = created.startsWith(">=") ? [created.slice(2), null] : created.split("..");
      listCalls.push({
        repository: listed[1]!,
        created,
        from: new Date(from!),
        to: to ? new Date(to) : null,
        page: Number(url.searchParams.get("page") ?? 1),
        status: result.status,
        at: call.at,
      });
    }
    send({ ...result, headers: { ...rateHeaders(), ...result.headers } });
  }

  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => void handle(req, res, data));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  standIn.apiUrl = `http://127.0.0.1:${port}`;
  standIn.host = `127.0.0.1:${port}`;
  return standIn;
}

export interface RunSpec {
  createdAt: Date;
  conclusion: "success" | "failure" | null;
  branch?: string;
  workflow?: string;
}

/**
 * Adds a repository with `runs` (GitHub's run objects, from a real example payload); a finished
 * run gets two jobs (of a failed run, the first failed at a step). Run numbers follow creation order.
 */
export function addRepository(standIn: ActionsStandIn, id: number, fullName: string, runs: RunSpec[]): StandInRepository {
  const ordered = [...runs].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const repository = { id, full_name: fullName, name: fullName.split("/")[1], default_branch: "main", owner: { login: fullName.split("/")[0] } };
  const repo: StandInRepository = {
    id,
    full_name: fullName,
    default_branch: "main",
    runs: ordered.map((spec, i) => {
      const seed: SeedRun = {
        id: runId(id, i),
        repository: fullName,
        workflow: spec.workflow ?? "CI",
        branch: spec.branch ?? "main",
        conclusion: spec.conclusion,
        status: spec.conclusion ? "completed" : "in_progress",
        createdAt: spec.createdAt,
        seconds: 120,
        actor: "mona",
        message: `change ${i}`,
        runNumber: i + 1,
      };
      if (spec.conclusion) {
        standIn.jobs.set(seed.id, [0, 1].map((index) => ({ ...jobPayload(seed, index === 0 ? "test" : "lint", index).workflow_job })));
      }
      return { ...runPayload(seed).workflow_run, repository };
    }),
  };
  standIn.repositories.push(repo);
  return repo;
}

/** The GitHub id of the `index`th run (by creation) of repository `repositoryId`. */
export const runId = (repositoryId: number, index: number) => repositoryId * 100_000 + index;

/**
 * `count` runs spread evenly over [from, to] on main, every `failEvery`th one failed; the
 * newest one's result is `last` when given.
 */
export function spreadRuns(count: number, from: Date, to: Date, options: { failEvery?: number; last?: "success" | "failure" } = {}): RunSpec[] {
  const step = (to.getTime() - from.getTime()) / Math.max(1, count - 1);
  return Array.from({ length: count }, (_, i) => ({
    createdAt: new Date(from.getTime() + Math.round(i * step)),
    conclusion: i === count - 1 && options.last ? options.last : options.failEvery && i % options.failEvery === options.failEvery - 1 ? "failure" : "success",
  }));
}

/**
 * The real `installation` `created` delivery of `@octokit/webhooks-examples`, moved to the
 * stand-in's installation and listing its repositories.
 */
export function installationCreated(standIn: ActionsStandIn): Record<string, any> {
  const root = path.dirname(require.resolve("@octokit/webhooks-examples/package.json"));
  const index = require(path.join(root, "api.github.com", "index.json")) as Array<{ name: string; examples: Array<Record<string, any>> }>;
  const payload = structuredClone(index.find((e) => e.name === "installation")!.examples.find((e) => e.action === "created")!);
  const [template] = payload.repositories;
  payload.installation.id = standIn.installationId;
  payload.installation.account.login = standIn.account;
  payload.repositories = standIn.repositories.map((r) => ({
    ...template,
    id: r.id,
    node_id: Buffer.from(`010:Repository${r.id}`).toString("base64"),
    name: r.full_name.split("/")[1],
    full_name: r.full_name,
  }));
  return payload;
}
