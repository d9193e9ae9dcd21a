/**
 * Reading the end of a failed step from a 50 MB job log, as the failure reader does: the log is
 * served over loopback HTTP (like GitHub's short-lived log address) and streamed through the
 * excerpt reader, against the same reader over the whole body read into memory first. Each read
 * runs in a process of its own, so its peak memory (VmHWM) is its own.
 *
 *   npx tsx bench/log-excerpt.bench.ts        (LOG_MB=50 ROUNDS=3 to change the size and rounds)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createLogExcerptReader, type StepWindow } from "../src/domain/log-excerpt.js";
import { projectPath } from "../src/project-path.js";
import { jobLog, red } from "../test/helpers/job-log.js";
import { ms, table } from "./support.js";

const LOG_MB = Number(process.env.LOG_MB ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

function peakMiB(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
}

/** One read, in this (child) process: prints its time, its peak memory above the start, and the excerpt's size. */
async function child(variant: string, url: string, step: StepWindow): Promise<void> {
  const before = peakMiB();
  const started = performance.now();
  const reader = createLogExcerptReader(step);
  const response = await fetch(url);
  if (variant === "streamed") {
    const body = response.body!.getReader();
    for (;;) {
      const { done, value } = await body.read();
      if (done || reader.push(value)) break;
    }
    await body.cancel().catch(() => undefined);
  } else {
    reader.push(new Uint8Array(await response.arrayBuffer()));
  }
  const excerpt = reader.end();
  const elapsed = performance.now() - started;
  process.stdout.write(JSON.stringify({ ms: elapsed, peakMiB: peakMiB() - before, lines: excerpt.lines.length, endsWithError: excerpt.endsWithError }));
}

async function main(): Promise<void> {
  const t0 = Date.parse("2026-12-01T10:00:00Z");
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  const steps = [
    { name: "Set up job", conclusion: "success", started_at: iso(0), completed_at: iso(2) },
    { name: "Run actions/checkout@v4", conclusion: "success", started_at: iso(2), completed_at: iso(5) },
    { name: "Run npm run build", conclusion: "success", started_at: iso(5), completed_at: iso(1_800) },
    { name: "Run npm test", conclusion: "failure", started_at: iso(1_800), completed_at: iso(1_900) },
    { name: "Complete job", conclusion: "success", started_at: iso(1_900), completed_at: iso(1_901) },
  ];
  // Padding lines are about 80 bytes: enough of them for LOG_MB in the build step.
  const padding = Math.round((LOG_MB * 1024 * 1024) / 80 / 2);
  const output = Array.from({ length: 60 }, (_, i) => (i === 57 ? red("FAIL src/cart.test.ts > totals > rounds half up") : `  test ${i} output line`));
  const log = Buffer.from(jobLog(steps, output, { padding, errorLine: "Process completed with exit code 1." }));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": log.length });
    res.end(log);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/log`;
  const step = { startedAt: steps[3]!.started_at, completedAt: steps[3]!.completed_at };

  const results: Record<string, Array<{ ms: number; peakMiB: number; lines: number; endsWithError: boolean }>> = { streamed: [], whole: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 === 0 ? ["streamed", "whole"] : ["whole", "streamed"]) {
      // Asynchronously: this process serves the log.
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ["--import", "tsx", "bench/log-excerpt.bench.ts", "--child", variant, url, step.startedAt, step.completedAt], { cwd: projectPath(), stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        p.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
        p.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited ${code}`))));
      });
      results[variant]!.push(JSON.parse(out));
    }
  }
  server.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const row = (variant: string) => {
    const r = results[variant]!;
    return [
      ms(median(r.map((x) => x.ms))),
      `${median(r.map((x) => x.peakMiB)).toFixed(0)} MiB`,
      `${r[0]!.lines} lines${r[0]!.endsWithError ? ", ends at ##[error]" : ""}`,
    ];
  };
  const [streamed, whole] = [row("streamed"), row("whole")];
  console.log(`## Failure excerpt from a ${LOG_MB} MB job log

A GitHub-shaped log (timestamps, \`##[group]Run\` markers, ANSI colours; ${(log.length / 1024 / 1024).toFixed(1)} MiB, the failed step at
its end) served over loopback HTTP, read by the failure reader's excerpt reader: streamed, against the
same reader over the whole body read into memory first. Each read in a process of its own; peak memory
is its VmHWM above what it had before the read. Medians of ${ROUNDS} rounds, in alternating order.

${table(
  ["", "Streamed (Runboard)", "Whole body, then read (baseline)"],
  [
    ["Time", streamed[0]!, whole[0]!],
    ["Peak memory added", streamed[1]!, whole[1]!],
    ["Excerpt", streamed[2]!, whole[2]!],
  ],
)}
`);
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]!, process.argv[4]!, { startedAt: new Date(process.argv[5]!), completedAt: new Date(process.argv[6]!) });
} else {
  await main();
}
