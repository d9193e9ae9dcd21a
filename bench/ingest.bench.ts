/**
 * Webhook ingest, measured against its raw limit. This process is the load generator; the app
 * (`src/main.ts`) and the baseline (`bench/baseline-server.ts`: verify the HMAC, one
 * `INSERT ... ON CONFLICT` with pg) each run as their own process on loopback, against the same
 * PostgreSQL. Both get the same signed `workflow_run` / `workflow_job` deliveries, built from
 * `@octokit/webhooks-examples`. Prints events per second, the ratio, p50/p99 time to 2xx at half
 * of each one's maximum rate, the app's peak memory, and checks that every event was stored.
 *
 * Then the same with the check-run worker at work: commits of 8 workflows whose `workflow_run`
 * completions arrive interleaved, the app registered as a GitHub App whose GitHub is a stand-in
 * in this process (bench/checks-stand-in.ts, through GHE_HOST), answering after 250 ms or never.
 * Beside the same baseline, it also prints the slowest answer and, after the load, how many
 * commits ended with one check run listing all of their workflows.
 *
 *   npx tsx bench/ingest.bench.ts            (EVENTS=20000 CONCURRENCY=32 ROUNDS=3 to change the load;
 *                                             COMMIT_EVENTS=2000 COMMIT_WARMUP=1000 DRAIN_SECONDS=900 for the check-run workloads;
 *                                             STREAMS=200 for the live-pages workload;
 *                                             WORKLOADS=deliveries,streams,slow,silent to run some of them)
 *
 * To profile the app under this load: APP_NODE_ARGS="--max-semi-space-size=64 --cpu-prof --cpu-prof-dir=/tmp/prof"
 * (node flags for the app's process; --trace-gc shows its pauses) and ONLY=app to skip the baseline. APP_LOG=file appends
 * the app's own log (LOG_LEVEL, default warn) to that file. TRACE_LATENCY=1 prints each second's p99 at half load;
 * TRACE_ACTIVITY=1 what the database's sessions do meanwhile, in the check-run workloads.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import pg from "pg";
import { projectPath } from "../src/project-path.js";
import { jobPayload, runPayload, type SeedRun } from "../test/helpers/seed-builds.js";
import { startChecksStandIn, type CheckRunTally, type ChecksStandIn, type DeliveredCommit } from "./checks-stand-in.js";
import { ms, table, withBenchDatabase } from "./support.js";

const EVENTS = Number(process.env.EVENTS ?? 12_000);
const WARMUP = 1_000;
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const HALF_LOAD_SECONDS = Number(process.env.HALF_LOAD_SECONDS ?? 8);
const SECRET = "bench-webhook-secret";
/** Node flags of the app's process: by default those `npm start` and the Dockerfile give it (a young generation of 64 MB semi-spaces). */
const APP_NODE_ARGS = (process.env.APP_NODE_ARGS ?? "--max-semi-space-size=64").split(" ").filter(Boolean);
const ONLY = process.env.ONLY ?? "";
/** Rounds of both servers, in alternating order; the figures are each one's median. */
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WORKLOADS = new Set((process.env.WORKLOADS ?? "deliveries,streams,slow,silent").split(","));
/** The live-pages workload: this many open `/events` streams, and the rate at which their delay is measured. */
const STREAMS = Number(process.env.STREAMS ?? 200);
const STREAM_RATE = 300;
const STREAM_RATE_SECONDS = 5;
const APP_LOG = process.env.APP_LOG ?? "";

/** The check-run workloads: every commit runs these, each finishing after the one before. */
const WORKFLOWS = ["Build", "Unit tests", "Lint", "Docs", "Integration", "Security scan", "Package", "Preview deploy"];
const COMMIT_EVENTS = Number(process.env.COMMIT_EVENTS ?? 2_000);
/** As many as the deliveries workload's warm-up: with 400, a fifth of the app's CPU at full speed still went to compiling its code. */
const COMMIT_WARMUP = Number(process.env.COMMIT_WARMUP ?? 1_000);
const COMMIT_HALF_LOAD_SECONDS = Number(process.env.COMMIT_HALF_LOAD_SECONDS ?? 4);
/** TRACE_LATENCY=1: each open-loop phase prints the p99 of the answers to deliveries sent in each second (stderr). */
const TRACE_LATENCY = process.env.TRACE_LATENCY === "1";
/**
 * TRACE_ACTIVITY=1: while the check-run workloads run at half load, what the database's other
 * sessions are doing, sampled every 20 ms from pg_stat_activity (stderr): the share of samples
 * in which each kind of work (backend type, statement's start, wait event) was under way.
 */
const TRACE_ACTIVITY = process.env.TRACE_ACTIVITY === "1";
/** Commits whose completions interleave at any moment, as on a busy organization. */
const IN_FLIGHT = 48;
const GITHUB_DELAY_MS = 250;
/**
 * How long the check-run worker gets to finish after the load, at most, before the check runs are
 * counted. It writes one check run a second (GitHub's advice for content-creating requests), so
 * a round's few hundred commits take a few minutes.
 */
const DRAIN_SECONDS = Number(process.env.DRAIN_SECONDS ?? 900);
const ANSWER_LIMIT_MS = 2_000;
/**
 * How long a stop may take before the process is killed. The app exits on its own 30 s after a
 * stop that hangs; waiting that out every round would add minutes and say nothing more. With
 * node flags for the app (a profile, written at exit) it is waited out.
 */
const STOP_GRACE_MS = APP_NODE_ARGS.length ? Infinity : 10_000;
const INSTALLATION = { id: 4242, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==" };

interface Event {
  id: string;
  name: string;
  body: Buffer;
  signature: string;
  /** The installation the payload names, if any. */
  installation?: number;
}

/**
 * The live-pages workload's events name one of this many installations, ids from
 * STREAM_INSTALLATION_BASE up; half its streams are users' API tokens, each scoped to one
 * installation: half of those to one of these, half to one with no builds at all.
 */
const STREAM_INSTALLATIONS = 10;
const STREAM_INSTALLATION_BASE = 100;

/** Per run: requested, in progress, two completed jobs, completed: five deliveries, all distinct. */
function makeEvents(count: number, firstRunId: number, installations = 0): Event[] {
  const events: Event[] = [];
  const now = Date.now();
  for (let run = 0; events.length < count; run++) {
    const seed: SeedRun = {
      id: firstRunId + run,
      repository: `acme/service-${run % 20}`,
      workflow: run % 3 === 0 ? "Deploy" : "CI",
      branch: run % 4 === 0 ? "feature/x" : "main",
      conclusion: run % 9 === 0 ? "failure" : "success",
      createdAt: new Date(now - (count - run) * 1000),
      seconds: 120 + (run % 60),
      actor: `dev${run % 12}`,
      message: `Change ${run}`,
    };
    const payloads: Array<[string, unknown]> = [
      ["workflow_run", runPayload({ ...seed, status: "queued" })],
      ["workflow_run", runPayload({ ...seed, status: "in_progress" })],
      ["workflow_job", jobPayload(seed, "build", 0)],
      ["workflow_job", jobPayload(seed, "test", 1)],
      ["workflow_run", runPayload(seed)],
    ];
    const installation = installations > 0 ? STREAM_INSTALLATION_BASE + (run % installations) : undefined;
    for (const [name, payload] of payloads) {
      events.push(
        installation === undefined
          ? sign(name, payload)
          : { ...sign(name, { ...(payload as object), installation: { id: installation } }), installation },
      );
    }
  }
  return events.slice(0, count);
}

function sign(name: string, payload: unknown): Event {
  const body = Buffer.from(JSON.stringify(payload));
  return { id: randomUUID(), name, body, signature: `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` };
}

/** A deterministic generator, so that every server gets the same interleaving. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * `count` commits of the installation, each with the completions of WORKFLOWS in order; the
 * next delivery comes from a random one of IN_FLIGHT open commits, and a finished commit makes
 * room for the next, so the check-run worker always has many commits changing under it.
 */
function makeCommitEvents(count: number, firstCommit: number): { events: Event[]; commits: DeliveredCommit[] } {
  const now = Date.now();
  const commits: DeliveredCommit[] = [];
  const queues: Event[][] = [];
  for (let c = 0; c < count; c++) {
    const n = firstCommit + c;
    const repository = `acme/service-${n % 20}`;
    const sha = createHash("sha1").update(`bench commit ${n}`).digest("hex");
    const createdAt = new Date(now - (count - c) * 60_000);
    queues.push(
      WORKFLOWS.map((workflow, w) => {
        const payload = runPayload({
          id: 300_000_000 + n * WORKFLOWS.length + w,
          repository,
          workflow,
          branch: n % 4 === 0 ? "feature/x" : "main",
          conclusion: n % 9 === 0 && w === 1 ? "failure" : "success",
          createdAt,
          seconds: 60 + w * 45 + (n % 30),
          actor: `dev${n % 12}`,
          message: `Change ${n}`,
        });
        payload.workflow_run.head_sha = sha;
        // Ids from the workflow's name could collide; the commit's summary keeps one run per id.
        payload.workflow_run.workflow_id = 9_000 + w;
        return sign("workflow_run", { ...payload, installation: INSTALLATION });
      }),
    );
    commits.push({ repository, sha, workflows: WORKFLOWS });
  }
  const random = seededRandom(count);
  const open = queues.splice(0, IN_FLIGHT);
  const events: Event[] = [];
  while (open.length > 0) {
    const i = Math.floor(random() * open.length);
    events.push(open[i]!.shift()!);
    if (open[i]!.length === 0) {
      const next = queues.shift();
      if (next) open[i] = next;
      else open.splice(i, 1);
    }
  }
  return { events, commits };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function startProcess(script: string, env: Record<string, string>, port: number, nodeArgs: string[] = [], logTo = ""): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script], {
    cwd: projectPath(),
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", logTo ? "pipe" : "ignore", "pipe"],
  });
  if (logTo) child.stdout?.pipe(createWriteStream(logTo, { flags: "a" }));
  // Its warnings go to ours, without holding our stderr open after it is gone.
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      await response.arrayBuffer();
      return child; // any answer means it listens
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${script} did not start`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with whether it had to be killed. */
function stopProcess(child: ChildProcess, graceMs = Infinity): Promise<boolean> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
    let killed = false;
    const timer = Number.isFinite(graceMs)
      ? setTimeout(() => {
          killed = true;
          child.kill("SIGKILL");
        }, graceMs)
      : undefined;
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(killed);
    });
    child.kill("SIGTERM");
  });
}

/** Peak resident memory of a process, from Linux's VmHWM. */
function peakMemoryMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time in ms so far, from Linux's /proc: the server's process, and every PostgreSQL process (its backends). */
interface CpuSoFar {
  server: number;
  postgres: number;
}

/** utime + stime of a process in ms (Linux counts them in USER_HZ, 100 a second), or null. */
function processCpuMs(pid: string): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

function cpuSoFar(pid: number): CpuSoFar | null {
  const server = processCpuMs(String(pid));
  if (server === null) return null;
  let postgres = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "latin1").startsWith("postgres")) continue;
    } catch {
      continue;
    }
    postgres += processCpuMs(entry) ?? 0;
  }
  return { server, postgres };
}

/**
 * CPU per event between two readings. A backend that ends between them takes its time with it,
 * which only the pools' own connections (open throughout) avoid: the figure is a floor.
 */
function cpuPerEvent(before: CpuSoFar | null, after: CpuSoFar | null, events: number): CpuSoFar | null {
  if (!before || !after) return null;
  return { server: (after.server - before.server) / events, postgres: (after.postgres - before.postgres) / events };
}

/** The connection that reads how much WAL the database cluster has written (set once the bench database is open). */
let walReader: pg.Client | null = null;

/** Bytes of WAL the cluster has written so far, or null without a reader. */
async function walSoFar(): Promise<number | null> {
  if (!walReader) return null;
  const { rows } = await walReader.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS bytes");
  return Number(rows[0].bytes);
}

/**
 * WAL per event between two readings: everything the cluster wrote meanwhile, the server's workers
 * included, divided by the events sent.
 */
function walPerEvent(before: number | null, after: number | null, events: number): number | null {
  return before === null || after === null ? null : (after - before) / events;
}

/** Runs a phase of `events` events and reads what it cost per event: CPU (the server's, PostgreSQL's) and WAL. */
async function costPerEvent<T>(pid: number, events: number, phase: () => Promise<T>): Promise<{ result: T; cpu: CpuSoFar | null; wal: number | null }> {
  const walBefore = await walSoFar();
  const cpuBefore = cpuSoFar(pid);
  const result = await phase();
  const cpu = cpuPerEvent(cpuBefore, cpuSoFar(pid), events);
  return { result, cpu, wal: walPerEvent(walBefore, await walSoFar(), events) };
}

/**
 * Sends one delivery and resolves when its 200 has arrived. A kept-alive socket the server closed
 * just as it was reused (its idle time-out) is reset without an answer: the delivery is sent once
 * more on a new socket, as Node's documentation advises for `reusedSocket`.
 */
function send(agent: http.Agent, port: number, path: string, event: Event, retried = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": event.body.length,
          "x-github-delivery": event.id,
          "x-github-event": event.name,
          "x-hub-signature-256": event.signature,
        },
      },
      (response) => {
        response.resume();
        response.on("end", () => (response.statusCode === 200 ? resolve(performance.now()) : reject(new Error(`HTTP ${response.statusCode}`))));
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (!retried && request.reusedSocket && error.code === "ECONNRESET") send(agent, port, path, event, true).then(resolve, reject);
      else reject(error);
    });
    request.end(event.body);
  });
}

/**
 * Closed loop: CONCURRENCY senders, each sending its next event as soon as the last is answered.
 * Resolves with the rate and each answer's time, sorted.
 */
async function maxRate(port: number, path: string, events: Event[]): Promise<{ rate: number; answers: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const answers: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events.length) {
        const sentAt = performance.now();
        answers.push((await send(agent, port, path, events[next++]!)) - sentAt);
      }
    }),
  );
  agent.destroy();
  const rate = events.length / ((performance.now() - t0) / 1000);
  return { rate, answers: answers.sort((a, b) => a - b) };
}

/** The `q` quantile of sorted values. */
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Open loop at a fixed rate: every event leaves on schedule, whether or not earlier ones returned. */
async function latencyAt(port: number, path: string, events: Event[], rate: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const answeredAt: number[] = [];
  const bySecond: number[][] = [];
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  let failure: unknown = null;
  for (let i = 0; i < events.length; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now();
    pending.push(
      send(agent, port, path, events[i]!).then((doneAt) => {
        latencies.push(doneAt - sentAt);
        answeredAt[i] = doneAt;
        if (TRACE_LATENCY) (bySecond[Math.floor((sentAt - start) / 1000)] ??= []).push(doneAt - sentAt);
      }, (error: unknown) => {
        // Kept until every send has ended: thrown now, it would end this process with the servers still running.
        failure ??= error;
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  if (failure) throw failure;
  if (TRACE_LATENCY) {
    const line = bySecond.map((l, second) => `${second}s p99 ${quantile([...l].sort((a, b) => a - b), 0.99).toFixed(0)}`).join(", ");
    process.stderr.write(`    at ${rate.toFixed(0)}/s on :${port}: ${line}\n`);
  }
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1)!, answeredAt };
}

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  stored: number;
  sent: number;
  memory: number | null;
  /** CPU per event at full speed (ms): the server's process and PostgreSQL's. */
  cpu: CpuSoFar | null;
  /** Bytes of WAL per event at full speed. */
  wal: number | null;
}

async function measure(port: number, path: string, firstRunId: number, count: () => Promise<number>, pid: number, installations = 0): Promise<Figures> {
  const warmup = makeEvents(WARMUP, firstRunId, installations);
  const load = makeEvents(EVENTS, firstRunId + WARMUP, installations);
  await maxRate(port, path, warmup);
  const {
    result: { rate },
    cpu,
    wal,
  } = await costPerEvent(pid, load.length, () => maxRate(port, path, load));
  const half = makeEvents(Math.max(200, Math.round((rate / 2) * HALF_LOAD_SECONDS)), firstRunId + WARMUP + EVENTS, installations);
  const { p50, p99 } = await latencyAt(port, path, half, rate / 2);
  return { rate, p50, p99, stored: await count(), sent: warmup.length + load.length + half.length, memory: peakMemoryMiB(pid), cpu, wal };
}

/**
 * Opens `count` `/events` streams, each on its own connection (stream i with `tokens[i]` as its
 * bearer token where there is one, without a login otherwise), and notes when each `build`
 * message arrives.
 */
async function openStreams(port: number, count: number, tokens: readonly string[] = []): Promise<{ messages: number[][]; close(): void }> {
  const messages: number[][] = [];
  const requests: http.ClientRequest[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      messages[i] = [];
      return new Promise<void>((resolve, reject) => {
        const headers: Record<string, string> = tokens[i] ? { authorization: `Bearer ${tokens[i]}` } : {};
        const request = http.get({ host: "127.0.0.1", port, path: "/events", agent: false, headers }, (response) => {
          if (response.statusCode !== 200) reject(new Error(`/events answered ${response.statusCode}`));
          let said = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            const at = performance.now();
            said += chunk;
            if (said.includes("event: hello\n")) resolve();
            // Count the messages in what arrived, keeping a partial line for the next chunk.
            const parts = said.split("event: build\n");
            for (let k = 1; k < parts.length; k++) messages[i]!.push(at);
            said = parts.at(-1)!.includes("event: hello\n") ? "" : parts.at(-1)!.slice(-32);
          });
          response.on("error", () => undefined);
        });
        request.on("error", reject);
        requests.push(request);
      });
    }),
  );
  return { messages, close: () => requests.forEach((request) => request.destroy()) };
}

/**
 * For each answer of an event a stream may see, the delay until that stream's next message
 * (sorted; a stream that never spoke again counts as Infinity).
 */
function streamDelays(answeredAt: number[], messages: number[][], sees: (stream: number, event: number) => boolean): number[] {
  const delays: number[] = [];
  for (const [stream, times] of messages.entries()) {
    const sorted = [...times].sort((a, b) => a - b);
    for (const [event, at] of answeredAt.entries()) {
      if (!sees(stream, event)) continue;
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid]! < at) lo = mid + 1;
        else hi = mid;
      }
      delays.push(lo < sorted.length ? sorted[lo]! - at : Infinity);
    }
  }
  return delays.sort((a, b) => a - b);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** One server's figures over the rounds: medians, events summed, the highest peak memory. */
function combine(rounds: Figures[]): Figures {
  return {
    rate: median(rounds.map((f) => f.rate)),
    p50: median(rounds.map((f) => f.p50)),
    p99: median(rounds.map((f) => f.p99)),
    stored: rounds.reduce((sum, f) => sum + f.stored, 0),
    sent: rounds.reduce((sum, f) => sum + f.sent, 0),
    memory: Math.max(...rounds.map((f) => f.memory ?? NaN)),
    cpu: medianCpu(rounds),
    wal: medianWal(rounds),
  };
}

/** The median of each part of the rounds' CPU per event, or null when a round has none. */
function medianCpu(rounds: Figures[]): CpuSoFar | null {
  const cpus = rounds.map((f) => f.cpu);
  if (cpus.length === 0 || cpus.some((c) => c === null)) return null;
  return { server: median(cpus.map((c) => c!.server)), postgres: median(cpus.map((c) => c!.postgres)) };
}

/** The median of the rounds' WAL per event, or null when a round has none. */
function medianWal(rounds: Figures[]): number | null {
  const wals = rounds.map((f) => f.wal);
  return wals.length === 0 || wals.some((w) => w === null) ? null : median(wals as number[]);
}

/** WAL per event in KB. */
function walCell(bytes: number | null): string {
  return bytes === null ? "–" : `${(bytes / 1024).toFixed(1)} KB`;
}

/** CPU per event as "server / PostgreSQL ms". */
function cpuCell(cpu: CpuSoFar | null): string {
  return cpu ? `${cpu.server.toFixed(2)} / ${cpu.postgres.toFixed(2)} ms` : "–";
}

interface CommitFigures extends Figures {
  /** p99 of the answers at full speed, CONCURRENCY at a time. */
  p99Full: number;
  /** The slowest answer of every delivery sent, warm-up included. */
  maxAnswer: number;
  commits: number;
  /** Only where GitHub answers: how the commits' check runs ended. */
  tally: CheckRunTally | null;
  /** Check-run rows still pending when the check runs were counted (after the drain, if any). */
  pending: number | null;
  /** Check-run rows pending when the last delivery was answered. */
  pendingAtLoadEnd: number | null;
  /** Seconds from the last answer until no check-run row was pending; null: not within DRAIN_SECONDS. */
  drainSeconds: number | null;
  requests: ChecksStandIn["requests"] | null;
  /** From SIGTERM to the process's exit; null: killed after STOP_GRACE_MS. */
  stopSeconds: number | null;
}

/** Samples pg_stat_activity every 20 ms until the returned function is called, which prints the tally (TRACE_ACTIVITY). */
async function sampleActivity(uri: string, label: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  const tally = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query(`
        SELECT a.backend_type, coalesce(a.wait_event_type || ':' || a.wait_event, 'cpu') AS wait,
               left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) AS query,
               (SELECT l.locktype || ' ' || coalesce(l.classid::regclass::text, '') || ' ' || coalesce(l.objid::text, '')
                FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS awaited
        FROM pg_stat_activity a
        WHERE a.pid <> pg_backend_pid() AND a.state IS DISTINCT FROM 'idle'
          AND a.backend_type NOT IN ('checkpointer', 'background writer', 'walwriter', 'autovacuum launcher', 'logical replication launcher', 'io worker')`);
      samples++;
      for (const r of rows) {
        const key = `${r.backend_type} | ${r.wait}${r.awaited ? ` (${r.awaited})` : ""} | ${r.query}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await client.end();
    const top = [...tally].sort((a, b) => b[1] - a[1]).slice(0, 15);
    process.stderr.write(`    activity on ${label}, ${samples} samples:\n${top.map(([k, n]) => `      ${((100 * n) / samples).toFixed(0).padStart(3)}% ${k}`).join("\n")}\n`);
  };
}

/**
 * One server under the check-run workloads' deliveries: warm-up and full speed closed loop,
 * then half of its own maximum rate open loop. Commits are numbered from `firstCommit`.
 */
async function measureCommits(port: number, path: string, firstCommit: number, pid: number, databaseUri?: string) {
  const warmup = makeCommitEvents(Math.ceil(COMMIT_WARMUP / WORKFLOWS.length), firstCommit);
  const load = makeCommitEvents(Math.ceil(COMMIT_EVENTS / WORKFLOWS.length), firstCommit + warmup.commits.length);
  const warm = await maxRate(port, path, warmup.events);
  const { result: full, cpu, wal } = await costPerEvent(pid, load.events.length, () => maxRate(port, path, load.events));
  const halfCommits = Math.max(25, Math.ceil(((full.rate / 2) * COMMIT_HALF_LOAD_SECONDS) / WORKFLOWS.length));
  const half = makeCommitEvents(halfCommits, firstCommit + warmup.commits.length + load.commits.length);
  const stopSampling = TRACE_ACTIVITY && databaseUri ? await sampleActivity(databaseUri, `:${port}`) : null;
  const { p50, p99, max } = await latencyAt(port, path, half.events, full.rate / 2);
  await stopSampling?.();
  return {
    rate: full.rate,
    cpu,
    wal,
    p50,
    p99,
    p99Full: quantile(full.answers, 0.99),
    maxAnswer: Math.max(warm.answers.at(-1)!, full.answers.at(-1)!, max),
    sent: warmup.events.length + load.events.length + half.events.length,
    commits: [...warmup.commits, ...load.commits, ...half.commits],
  };
}

async function main() {
  await withBenchDatabase("ingest", async (uri) => {
    const db = new pg.Client({ connectionString: uri });
    await db.connect();
    walReader = db;
    const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const env = { DATABASE_URL: uri, WEBHOOK_SECRET: SECRET, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn", POLL_INTERVAL_SECONDS: "0" };
    const count = async (table: string) => Number((await db.query(`SELECT count(*) FROM ${table}`)).rows[0].count);

    async function run(script: string, extraEnv: Record<string, string>, nodeArgs: string[], path: string, firstRunId: number, table: string) {
      const port = await freePort();
      const child = await startProcess(script, { ...env, ...extraEnv }, port, nodeArgs, script === "src/main.ts" ? APP_LOG : "");
      try {
        const before = await count(table);
        const figures = await measure(port, path, firstRunId, () => count(table), child.pid!);
        return { ...figures, stored: figures.stored - before };
      } finally {
        await stopProcess(child);
      }
    }

    if (WORKLOADS.has("deliveries")) {
      const none: Figures = { rate: NaN, p50: NaN, p99: NaN, stored: 0, sent: 0, memory: null, cpu: null, wal: null };
      const perRun = WARMUP + EVENTS + 20_000;
      const app = (round: number) =>
        run("src/main.ts", { APP_ID: "1", PRIVATE_KEY: privateKey }, APP_NODE_ARGS, "/api/github/webhooks", 1_000_000 + round * perRun, "deliveries");
      const bare = (round: number) => run("bench/baseline-server.ts", {}, [], "/", 50_000_000 + round * perRun, "baseline_events");
      const oursRounds: Figures[] = [];
      const baselineRounds: Figures[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which goes first, so a machine that drifts during the run favours neither.
        const order = round % 2 === 0 ? (["app", "baseline"] as const) : (["baseline", "app"] as const);
        for (const side of order) {
          if (side === "app" && ONLY !== "baseline") oursRounds.push(await app(round));
          if (side === "baseline" && ONLY !== "app") baselineRounds.push(await bare(round));
        }
      }
      const ours = oursRounds.length ? combine(oursRounds) : none;
      const baseline = baselineRounds.length ? combine(baselineRounds) : none;
      const ratios = oursRounds.map((f, i) => (baselineRounds[i] ? (f.rate / baselineRounds[i]!.rate).toFixed(2) : "–"));

      const lost = (f: Figures) => (f.stored === f.sent ? "none" : `${f.sent - f.stored} of ${f.sent}`);
      const mib = (v: number | null) => (v === null ? "–" : `${v.toFixed(0)} MiB`);
      console.log(`## Webhook ingest

${EVENTS.toLocaleString("en")} signed deliveries (after ${WARMUP.toLocaleString("en")} to warm up) from a separate process over loopback,
${CONCURRENCY} at a time; then ${HALF_LOAD_SECONDS} s at half of each server's own maximum rate, open loop.
Deliveries: per run, requested, in progress, two completed jobs and completed, from \`@octokit/webhooks-examples\`.
${ROUNDS} rounds of both, in alternating order, into one database; each figure is the median of the rounds
(ratio of each round: ${ratios.join(", ")}), events lost are summed, memory is the highest peak.

${table(
  ["", "Runboard", "Baseline (HMAC + one INSERT)", "Runboard / baseline", "Target"],
  [
    ["Events per second (max)", ours.rate.toFixed(0), baseline.rate.toFixed(0), (ours.rate / baseline.rate).toFixed(2), "≥ 0.75"],
    ["CPU per event at full speed: server process / PostgreSQL", cpuCell(ours.cpu), cpuCell(baseline.cpu), "", ""],
    ["WAL written per event at full speed", walCell(ours.wal), walCell(baseline.wal), "", ""],
    ["p50 to 2xx at half load", ms(ours.p50), ms(baseline.p50), "", ""],
    ["p99 to 2xx at half load", ms(ours.p99), ms(baseline.p99), "", "< 20 ms"],
    ["Events lost (stored vs sent)", lost(ours), lost(baseline), "", "none"],
    ["Peak memory (VmHWM)", mib(ours.memory), mib(baseline.memory), "", ""],
  ],
)}
`);
    }

    if (WORKLOADS.has("streams") && ONLY !== "baseline") {
      const perRun = WARMUP + EVENTS + 20_000;
      const base = 80_000_000;
      const figures: Array<{ without: Figures; withStreams: Figures; delays: number[]; messages: number; strayed: number }> = [];
      // Streams past the first half are users' API tokens: token k sees installation
      // STREAM_INSTALLATION_BASE + (k % 2·STREAM_INSTALLATIONS), so half of them see one
      // installation with builds and half one with none, which must hear of nothing.
      const anonymous = Math.ceil(STREAMS / 2);
      const scopes = Array.from({ length: STREAMS }, (_, i) =>
        i < anonymous ? null : STREAM_INSTALLATION_BASE + ((i - anonymous) % (2 * STREAM_INSTALLATIONS)),
      );
      const tokens = scopes.map((scope, i) => (scope === null ? "" : `rbt_bench_${i}_${randomUUID()}`));
      for (const [i, token] of tokens.entries()) {
        if (!token) continue;
        await db.query(
          "INSERT INTO api_tokens (token_hash, name, github_user_id, login, installation_ids) VALUES ($1, 'bench', $2, $3, $4)",
          [createHash("sha256").update(token).digest("hex"), 10_000 + i, `user-${i}`, [scopes[i]]],
        );
      }
      const buildless = (stream: number) => scopes[stream]! >= STREAM_INSTALLATION_BASE + STREAM_INSTALLATIONS;
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? [false, true] : [true, false];
        const pair: Partial<Record<"without" | "withStreams", Figures>> = {};
        let delays: number[] = [];
        let messages = 0;
        let strayed = 0;
        for (const withStreams of order) {
          process.stderr.write(`  live pages: ${withStreams ? STREAMS : 0} streams, round ${round + 1}\n`);
          const port = await freePort();
          const child = await startProcess("src/main.ts", { ...env, APP_ID: "1", PRIVATE_KEY: privateKey }, port, APP_NODE_ARGS, APP_LOG);
          try {
            const streams = withStreams ? await openStreams(port, STREAMS, tokens) : null;
            const first = base + (round * 2 + (withStreams ? 1 : 0)) * perRun;
            const before = await count("deliveries");
            const measured = await measure(port, "/api/github/webhooks", first, () => count("deliveries"), child.pid!, STREAM_INSTALLATIONS);
            if (streams) {
              // How soon each open page hears of changes it may see, arriving at STREAM_RATE a second.
              const events = makeEvents(STREAM_RATE * STREAM_RATE_SECONDS, first + perRun - 5_000, STREAM_INSTALLATIONS);
              const { answeredAt } = await latencyAt(port, "/api/github/webhooks", events, STREAM_RATE);
              await new Promise((r) => setTimeout(r, 2_000));
              delays = streamDelays(answeredAt, streams.messages, (stream, event) => scopes[stream] === null || scopes[stream] === events[event]!.installation);
              // Messages per stream per second while the deliveries came (from the first answer to
              // the last), for the streams that may see every build.
              const from = Math.min(...answeredAt);
              const to = Math.max(...answeredAt);
              const inWindow = streams.messages.slice(0, anonymous).reduce((sum, m) => sum + m.filter((at) => at >= from && at <= to).length, 0);
              messages = inWindow / anonymous / ((to - from) / 1000);
              strayed = streams.messages.reduce((sum, m, stream) => sum + (buildless(stream) ? m.length : 0), 0);
              streams.close();
            }
            pair[withStreams ? "withStreams" : "without"] = { ...measured, stored: measured.stored - before };
          } finally {
            await stopProcess(child, 10_000);
          }
        }
        figures.push({ without: pair.without!, withStreams: pair.withStreams!, delays, messages, strayed });
      }
      // Each round's two runs are back to back, so their ratio is the least touched by a machine that drifts.
      const roundRatios = figures.map((f) => f.withStreams.rate / f.without.rate);
      const withoutRate = median(figures.map((f) => f.without.rate));
      const withRate = median(figures.map((f) => f.withStreams.rate));
      const delays = figures.flatMap((f) => f.delays).sort((a, b) => a - b);
      console.log(`## Live pages: ${STREAMS} open event streams

The ingest load above (${EVENTS.toLocaleString("en")} deliveries at full speed, then half load) against Runboard with no dashboard
open, and with ${STREAMS} \`/events\` streams open, read by this process: ${anonymous} without a login (they may see every build), and
${STREAMS - anonymous} with users' API tokens, each scoped to one installation (the deliveries name ${STREAM_INSTALLATIONS} installations; half the
tokens see one of them, half one with no builds). Then, with the streams open, deliveries at ${STREAM_RATE} a second for
${STREAM_RATE_SECONDS} s: for each delivery answered, the time until the next message of every stream that may see it.
${ROUNDS} rounds, alternating which goes first; medians of the rounds.

${table(
  ["", "No streams", `${STREAMS} streams`, "Ratio", "Target"],
  [
    ["Events per second (max): median of the rounds; ratio: median of each round's ratio", withoutRate.toFixed(0), withRate.toFixed(0), median(roundRatios).toFixed(2), "≥ 0.90"],
    ["Ratio, each round (the two runs of a round back to back)", "", "", roundRatios.map((r) => r.toFixed(2)).join(", "), ""],
    ["Ratio of the medians", "", "", (withRate / withoutRate).toFixed(2), ""],
    ["p99 to 2xx at half load", ms(median(figures.map((f) => f.without.p99))), ms(median(figures.map((f) => f.withStreams.p99))), "", ""],
    [`A stream's next message after a delivery's answer, at ${STREAM_RATE}/s: p50 / p99 / max`, "", delays.length ? `${ms(quantile(delays, 0.5))} / ${ms(quantile(delays, 0.99))} / ${ms(delays.at(-1)!)}` : "–", "", "≤ 1 s"],
    ["Messages per stream per second at that rate (streams without a login)", "", median(figures.map((f) => f.messages)).toFixed(1), "", "≤ 2 (one a tick)"],
    ["Build messages to streams of installations without builds, all rounds", "", String(figures.reduce((sum, f) => sum + f.strayed, 0)), "", "0"],
    ["Peak memory (VmHWM)", `${median(figures.map((f) => f.without.memory ?? NaN)).toFixed(0)} MiB`, `${median(figures.map((f) => f.withStreams.memory ?? NaN)).toFixed(0)} MiB`, "", ""],
  ],
)}
`);
    }

    const sides = (["baseline", "slow", "silent"] as const).filter((side) => (side === "baseline" ? ONLY !== "app" : WORKLOADS.has(side) && ONLY !== "baseline"));
    if ((WORKLOADS.has("slow") || WORKLOADS.has("silent")) && sides.length > 0) {
      /** One server under the check-run workloads; the app's GitHub answers in GITHUB_DELAY_MS, or never. */
      const runCommits = async (side: (typeof sides)[number], round: number): Promise<CommitFigures> => {
        const standIn = side === "baseline" ? null : await startChecksStandIn({ delayMs: side === "slow" ? GITHUB_DELAY_MS : null });
        const table = side === "baseline" ? "baseline_events" : "deliveries";
        const port = await freePort();
        const child =
          side === "baseline"
            ? await startProcess("bench/baseline-server.ts", env, port)
            : await startProcess(
                "src/main.ts",
                // A GitHub App whose GitHub is the stand-in; no history import, which would list repositories there.
                { ...env, APP_ID: "1", PRIVATE_KEY: privateKey, GHE_HOST: standIn!.host, GHE_PROTOCOL: "http", BACKFILL_DAYS: "0" },
                port,
                APP_NODE_ARGS,
                APP_LOG,
              );
        let result: Omit<CommitFigures, "stopSeconds">;
        try {
          const before = await count(table);
          const firstCommit = (["baseline", "slow", "silent"].indexOf(side) + 1) * 1_000_000 + round * 10_000;
          const figures = await measureCommits(port, side === "baseline" ? "/" : "/api/github/webhooks", firstCommit, child.pid!, uri);
          const stored = (await count(table)) - before;
          const pendingRows = async () => (side === "baseline" ? null : Number((await db.query(`SELECT count(*) FROM check_runs WHERE status = 'pending'`)).rows[0].count));
          let pending = await pendingRows();
          const pendingAtLoadEnd = pending;
          let drainSeconds: number | null = null;
          if (side === "slow") {
            const t0 = performance.now();
            while (pending! > 0 && performance.now() - t0 < DRAIN_SECONDS * 1000) {
              await new Promise((r) => setTimeout(r, 500));
              pending = await pendingRows();
            }
            if (pending === 0) drainSeconds = (performance.now() - t0) / 1000;
          }
          result = {
            ...figures,
            stored,
            memory: peakMemoryMiB(child.pid!),
            commits: figures.commits.length,
            tally: side === "slow" ? standIn!.tally(figures.commits) : null,
            pending,
            pendingAtLoadEnd,
            drainSeconds,
            requests: standIn ? { ...standIn.requests } : null,
          };
        } catch (error) {
          await stopProcess(child);
          await standIn?.stop();
          throw error;
        }
        const t0 = performance.now();
        const killed = await stopProcess(child, STOP_GRACE_MS);
        const stopSeconds = killed ? null : (performance.now() - t0) / 1000;
        await standIn?.stop();
        // Rows left by one app (unsent, or waiting out GitHub's silence) would be the next one's backlog.
        await db.query("DELETE FROM check_runs");
        return { ...result, stopSeconds };
      };

      const rounds = new Map(sides.map((side) => [side, [] as CommitFigures[]]));
      for (let round = 0; round < ROUNDS; round++) {
        // Rotating which goes first, so a machine that drifts during the run favours none.
        const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
        for (const side of order) {
          process.stderr.write(`  ${side}, round ${round + 1}\n`);
          rounds.get(side)!.push(await runCommits(side, round));
        }
      }
      console.log(commitSection(rounds as Map<CommitSide, CommitFigures[]>));
    }
    walReader = null;
    await db.end();
  });
}

type CommitSide = "baseline" | "slow" | "silent";

/** The check-run workloads' section: each workload beside the baseline, medians of the rounds. */
function commitSection(rounds: Map<CommitSide, CommitFigures[]>): string {
  const baseline = rounds.get("baseline") ?? [];
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const n = (value: number) => value.toLocaleString("en");
  const seconds = (value: number) => (Number.isFinite(value) ? `${value.toFixed(value < 10 ? 1 : 0)} s` : "–");
  const mib = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} MiB` : "–");
  const columns: Array<CommitSide> = ["slow", "silent", "baseline"];
  const cell = (side: CommitSide, show: (figures: CommitFigures[]) => string) => {
    const figures = rounds.get(side) ?? [];
    return figures.length ? show(figures) : "–";
  };
  const base = baseline.length ? { rate: median(baseline.map((f) => f.rate)), p99: median(baseline.map((f) => f.p99)) } : null;
  const row = (label: string, show: (figures: CommitFigures[], side: CommitSide) => string, target = "") => [
    label,
    ...columns.map((side) => cell(side, (f) => show(f, side))),
    target,
  ];
  const appOnly = (show: (figures: CommitFigures[], side: CommitSide) => string) => (figures: CommitFigures[], side: CommitSide) =>
    side === "baseline" ? "" : show(figures, side);

  const rate = (f: CommitFigures[], side: CommitSide) => {
    const value = median(f.map((x) => x.rate));
    return side === "baseline" || !base ? value.toFixed(0) : `${value.toFixed(0)} (${(value / base.rate).toFixed(2)})`;
  };
  const ratios = (f: CommitFigures[]) => f.map((x, i) => (baseline[i] ? (x.rate / baseline[i]!.rate).toFixed(2) : "–")).join(", ");
  const p99Half = (f: CommitFigures[], side: CommitSide) => {
    const value = median(f.map((x) => x.p99));
    return side === "baseline" || !base ? ms(value) : `${ms(value)} (${(value / base.p99).toFixed(2)}×)`;
  };
  const lost = (f: CommitFigures[]) => {
    const stored = sum(f.map((x) => x.stored));
    const sent = sum(f.map((x) => x.sent));
    return stored === sent ? "none" : `${n(sent - stored)} of ${n(sent)}`;
  };
  const tallied = (f: CommitFigures[], pick: (t: CheckRunTally) => number) => n(sum(f.map((x) => (x.tally ? pick(x.tally) : 0))));
  const commits = (f: CommitFigures[]) => n(sum(f.map((x) => x.commits)));
  const afterLoad = (f: CommitFigures[], side: CommitSide) =>
    f
      .map((x) =>
        side === "slow"
          ? `${n(x.pendingAtLoadEnd ?? 0)} pending, ${x.drainSeconds !== null ? `done in ${seconds(x.drainSeconds)}` : `${n(x.pending ?? 0)} left after ${DRAIN_SECONDS} s`}`
          : `${n(x.pending ?? 0)} pending`,
      )
      .join("; ");
  const requests = (f: CommitFigures[]) =>
    `${n(sum(f.map((x) => x.requests?.find ?? 0)))} / ${n(sum(f.map((x) => x.requests?.create ?? 0)))} / ${n(sum(f.map((x) => x.requests?.update ?? 0)))}`;
  const stop = (f: CommitFigures[]) => {
    const killed = f.filter((x) => x.stopSeconds === null).length;
    return killed
      ? `not within ${STOP_GRACE_MS / 1000} s (killed) in ${killed} of ${f.length} rounds`
      : seconds(median(f.map((x) => x.stopSeconds!)));
  };
  const perRound = median((rounds.get("slow") ?? rounds.get("silent") ?? baseline).map((f) => f.commits));

  return `## Webhook ingest with check runs

Commits of ${WORKFLOWS.length} workflows each whose \`workflow_run\` completed deliveries arrive one after another, interleaved so
that ${IN_FLIGHT} commits are in flight at any moment (20 repositories, one installation): ${n(COMMIT_WARMUP)} deliveries to warm up,
${n(COMMIT_EVENTS)} at full speed (${CONCURRENCY} at a time), then ${COMMIT_HALF_LOAD_SECONDS} s at half of each server's own maximum rate, open loop
(about ${n(perRound)} commits a round). Runboard runs as a GitHub App whose GitHub (\`GHE_HOST\`) is a stand-in on loopback,
so its check-run worker writes while the deliveries arrive. First column: GitHub answers every request after ${GITHUB_DELAY_MS} ms
and keeps check runs per commit; after the load the worker gets until its backlog is written (at most ${DRAIN_SECONDS} s;
it writes one check run a second, as GitHub asks of content-creating requests), then each commit's check runs at the
stand-in are counted. Second column: GitHub accepts connections and never answers (the app's
deadline is 10 s a request). The baseline gets the same deliveries. ${ROUNDS} rounds of the three, in rotating order,
into one database; each figure is the median of the rounds, except the slowest answer and memory (the highest) and counts (summed).

${table(
  ["", `Runboard, GitHub answers in ${GITHUB_DELAY_MS} ms`, "Runboard, GitHub never answers", "Baseline (HMAC + one INSERT)", "Target"],
  [
    row("Events per second (max; ratio to baseline)", rate, "≥ 0.75 of baseline"),
    row("Ratio to baseline, each round", appOnly(ratios)),
    row("CPU per event at full speed: server process / PostgreSQL", (f) => cpuCell(medianCpu(f))),
    row("WAL written per event at full speed", (f) => walCell(medianWal(f))),
    row("p50 to 2xx at half load", (f) => ms(median(f.map((x) => x.p50)))),
    row("p99 to 2xx at half load (ratio to baseline)", p99Half, "≤ 1.5× baseline"),
    row(`p99 to 2xx at full speed (${CONCURRENCY} at a time)`, (f) => ms(median(f.map((x) => x.p99Full)))),
    row("Slowest answer, any delivery", (f) => ms(Math.max(...f.map((x) => x.maxAnswer))), `≤ ${ANSWER_LIMIT_MS / 1000} s`),
    row("Events lost (stored vs sent)", lost, "none"),
    row(`Commits with one check run listing all ${WORKFLOWS.length} workflows`, (f, side) =>
      side === "slow" ? `${tallied(f, (t) => t.correct)} of ${commits(f)}` : "", "all"),
    row("Other commits: no check run / summary behind / more than one", (f, side) =>
      side === "slow" ? `${tallied(f, (t) => t.missing)} / ${tallied(f, (t) => t.stale)} / ${tallied(f, (t) => t.duplicated)}` : "", "– / – / 0"),
    row("Check-run rows after the load, each round", appOnly(afterLoad)),
    row("GitHub requests: find / create / update", appOnly(requests)),
    row("Peak memory (VmHWM)", (f) => mib(Math.max(...f.map((x) => x.memory ?? NaN)))),
    row("Stop (SIGTERM to exit)", stop),
  ],
)}
`;
}

await main();
