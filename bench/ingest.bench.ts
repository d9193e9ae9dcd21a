/**
 * Webhook ingest, measured against its raw limit. This process is the load generator; the app
 * (`src/main.ts`) and the baseline (`bench/baseline-server.ts`: verify the HMAC, one
 * `INSERT ... ON CONFLICT` with pg) each run as their own process on loopback, against the same
 * PostgreSQL. Both get the same signed `workflow_run` / `workflow_job` deliveries, built from
 * `@octokit/webhooks-examples`. Prints events per second, the ratio, p50/p99 time to 2xx at half
 * of each one's maximum rate, the app's peak memory, and checks that every event was stored.
 *
 *   npx tsx bench/ingest.bench.ts            (EVENTS=20000 CONCURRENCY=32 ROUNDS=3 to change the load)
 *
 * To profile the app under this load: APP_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
 * (node flags for the app's process) and ONLY=app to skip the baseline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import pg from "pg";
import { projectPath } from "../src/project-path.js";
import { jobPayload, runPayload, type SeedRun } from "../test/helpers/seed-builds.js";
import { ms, table, withBenchDatabase } from "./support.js";

const EVENTS = Number(process.env.EVENTS ?? 12_000);
const WARMUP = 1_000;
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const HALF_LOAD_SECONDS = Number(process.env.HALF_LOAD_SECONDS ?? 8);
const SECRET = "bench-webhook-secret";
const APP_NODE_ARGS = (process.env.APP_NODE_ARGS ?? "").split(" ").filter(Boolean);
const ONLY = process.env.ONLY ?? "";
/** Rounds of both servers, in alternating order; the figures are each one's median. */
const ROUNDS = Number(process.env.ROUNDS ?? 3);

interface Event {
  id: string;
  name: string;
  body: Buffer;
  signature: string;
}

/** Per run: requested, in progress, two completed jobs, completed: five deliveries, all distinct. */
function makeEvents(count: number, firstRunId: number): Event[] {
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
    for (const [name, payload] of payloads) {
      const body = Buffer.from(JSON.stringify(payload));
      events.push({ id: randomUUID(), name, body, signature: `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` });
    }
  }
  return events.slice(0, count);
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

async function startProcess(script: string, env: Record<string, string>, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script], {
    cwd: projectPath(),
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
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

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
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

function send(agent: http.Agent, port: number, path: string, event: Event): Promise<number> {
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
    request.on("error", reject);
    request.end(event.body);
  });
}

/** Closed loop: CONCURRENCY senders, each sending its next event as soon as the last is answered. */
async function maxRate(port: number, path: string, events: Event[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events.length) await send(agent, port, path, events[next++]!);
    }),
  );
  agent.destroy();
  return events.length / ((performance.now() - t0) / 1000);
}

/** Open loop at a fixed rate: every event leaves on schedule, whether or not earlier ones returned. */
async function latencyAt(port: number, path: string, events: Event[], rate: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < events.length; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now();
    pending.push(send(agent, port, path, events[i]!).then((doneAt) => void latencies.push(doneAt - sentAt)));
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: pick(0.5), p99: pick(0.99) };
}

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  stored: number;
  sent: number;
  memory: number | null;
}

async function measure(port: number, path: string, firstRunId: number, count: () => Promise<number>, pid: number): Promise<Figures> {
  const warmup = makeEvents(WARMUP, firstRunId);
  const load = makeEvents(EVENTS, firstRunId + WARMUP);
  await maxRate(port, path, warmup);
  const rate = await maxRate(port, path, load);
  const half = makeEvents(Math.max(200, Math.round((rate / 2) * HALF_LOAD_SECONDS)), firstRunId + WARMUP + EVENTS);
  const { p50, p99 } = await latencyAt(port, path, half, rate / 2);
  return { rate, p50, p99, stored: await count(), sent: warmup.length + load.length + half.length, memory: peakMemoryMiB(pid) };
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
  };
}

async function main() {
  await withBenchDatabase("ingest", async (uri) => {
    const db = new pg.Client({ connectionString: uri });
    await db.connect();
    const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const env = { DATABASE_URL: uri, WEBHOOK_SECRET: SECRET, LOG_LEVEL: "warn", POLL_INTERVAL_SECONDS: "0" };

    async function run(script: string, extraEnv: Record<string, string>, nodeArgs: string[], path: string, firstRunId: number, table: string) {
      const port = await freePort();
      const child = await startProcess(script, { ...env, ...extraEnv }, port, nodeArgs);
      const count = async () => Number((await db.query(`SELECT count(*) FROM ${table}`)).rows[0].count);
      try {
        const before = await count();
        const figures = await measure(port, path, firstRunId, count, child.pid!);
        return { ...figures, stored: figures.stored - before };
      } finally {
        await stopProcess(child);
      }
    }
    const none: Figures = { rate: NaN, p50: NaN, p99: NaN, stored: 0, sent: 0, memory: null };
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
    await db.end();

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
    ["p50 to 2xx at half load", ms(ours.p50), ms(baseline.p50), "", ""],
    ["p99 to 2xx at half load", ms(ours.p99), ms(baseline.p99), "", "< 20 ms"],
    ["Events lost (stored vs sent)", lost(ours), lost(baseline), "", "none"],
    ["Peak memory (VmHWM)", mib(ours.memory), mib(baseline.memory), "", ""],
  ],
)}
`);
  });
}

await main();
