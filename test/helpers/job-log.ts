/** GitHub's log timestamp: seven decimals, UTC. */
const stamp = (ms: number) => `${new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z")}`;

const RED = "\u001b[31m";
const BOLD = "\u001b[1m";
const RESET = "\u001b[0m";

/**
 * A job log shaped like GitHub's: a timestamp on every line, `##[group]Run <command>` markers
 * and `##[endgroup]`, ANSI colours, the failed step's output ending with `##[error]`, then the
 * post steps. Lines of each step are stamped within its start and end (as the job reports
 * them); `errorOutput` is what the failed step printed before its error.
 * @param steps the job's steps as the `workflow_job` payload has them
 * @param options.padding lines of noise per succeeded step (to make a long log)
 */
export function jobLog(
  steps: Array<{ name: string; conclusion: string | null; started_at: string; completed_at: string }>,
  errorOutput: string[],
  options: { padding?: number; errorLine?: string } = {},
): string {
  const out: string[] = ["\uFEFF" + `${stamp(Date.parse(steps[0]!.started_at))} Current runner version: '2.317.0'`];
  for (const step of steps) {
    if (step.conclusion === "skipped" || step.name === "Set up job" || step.name === "Complete job") continue;
    const start = Date.parse(step.started_at);
    const end = Math.max(Date.parse(step.completed_at), start + 900);
    const at = (fraction: number) => stamp(start + Math.floor(fraction * (end - start)) + 1);
    const command = step.name.replace(/^Run /, "");
    out.push(`${at(0)} ##[group]Run ${command}`, `${at(0)} ${command}`, `${at(0.01)} shell: /usr/bin/bash -e {0}`, `${at(0.01)} ##[endgroup]`);
    if (step.conclusion === "failure") {
      errorOutput.forEach((line, i) => out.push(`${at(0.1 + (0.8 * i) / Math.max(1, errorOutput.length))} ${line}`));
      out.push(`${at(0.95)} ##[error]${options.errorLine ?? "Process completed with exit code 1."}`);
    } else {
      for (let i = 0; i < (options.padding ?? 3); i++) {
        out.push(`${at(0.1 + (0.8 * i) / Math.max(1, options.padding ?? 3))} ${BOLD}[${command}]${RESET} working on item ${i} of the step`);
      }
    }
  }
  const last = Date.parse(steps[steps.length - 1]!.completed_at);
  out.push(`${stamp(last + 1)} Post job cleanup.`, `${stamp(last + 2)} Cleaning up orphan processes`);
  return `${out.join("\n")}\n`;
}

/** Red, as test runners print a failure. */
export const red = (text: string) => `${RED}${text}${RESET}`;
