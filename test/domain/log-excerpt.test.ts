import { describe, expect, it } from "vitest";
import { EXCERPT_MAX_BYTES, EXCERPT_MAX_LINES, cleanLogLine, createLogExcerptReader } from "../../src/domain/log-excerpt.js";
import { jobLog, red } from "../helpers/job-log.js";
import { clone, workflowExamples } from "../helpers/webhook-examples.js";

const job = workflowExamples().find((e) => e.event === "workflow_job" && e.payload.workflow_job.conclusion === "failure")!.payload.workflow_job;
const steps = clone(job.steps) as Array<{ name: string; conclusion: string; started_at: string; completed_at: string }>;
const failed = steps.find((s) => s.conclusion === "failure")!;
const window = { startedAt: new Date(failed.started_at), completedAt: new Date(failed.completed_at) };

/** Feeds `text` to a reader in chunks of `size` bytes. */
function read(text: string | Uint8Array, size: number, step = window) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const reader = createLogExcerptReader(step);
  let stoppedAt = bytes.length;
  for (let i = 0; i < bytes.length; i += size) {
    if (reader.push(bytes.subarray(i, i + size))) {
      stoppedAt = i + size;
      break;
    }
  }
  return { ...reader.end(), stoppedAt };
}

describe("log excerpt", () => {
  const output = [red("FAIL src/app.test.ts > adds numbers"), "AssertionError: expected 3 to be 4", "  at src/app.test.ts:12:5"];
  const log = jobLog(steps, output, { padding: 5 });

  it.each([1, 7, 4096])("keeps the failed step's lines up to its error line, in chunks of %i bytes", (size) => {
    const excerpt = read(log, size);
    expect(excerpt.endsWithError).toBe(true);
    expect(excerpt.lines).toEqual([
      "Run yarn run format-check",
      "yarn run format-check",
      "shell: /usr/bin/bash -e {0}",
      "FAIL src/app.test.ts > adds numbers",
      "AssertionError: expected 3 to be 4",
      "  at src/app.test.ts:12:5",
      "Error: Process completed with exit code 1.",
    ]);
  });

  it("stops reading once the error line is found", () => {
    expect(read(log, 64).stoppedAt).toBeLessThan(new TextEncoder().encode(log).length);
  });

  it("keeps the last lines only, the error line among them", () => {
    const many = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    const excerpt = read(jobLog(steps, many), 1000);
    expect(excerpt.lines).toHaveLength(EXCERPT_MAX_LINES);
    expect(excerpt.lines.at(-2)).toBe("line 499");
    expect(excerpt.lines.at(-1)).toBe("Error: Process completed with exit code 1.");
  });

  it("cuts very long lines and keeps the excerpt to a few KB", () => {
    const long = Array.from({ length: 30 }, (_, i) => `${i} ${"x".repeat(100_000)}`);
    const excerpt = read(jobLog(steps, long), 65_536);
    expect(excerpt.lines.at(-1)).toBe("Error: Process completed with exit code 1.");
    expect(excerpt.lines.every((l) => l.length <= 300)).toBe(true);
    expect(Buffer.byteLength(excerpt.lines.join("\n"))).toBeLessThanOrEqual(EXCERPT_MAX_BYTES);
  });

  it("replaces invalid UTF-8 and keeps characters split across chunks", () => {
    const before = new TextEncoder().encode(jobLog(steps, ["résumé ✓ MARK"]));
    const at = Buffer.from(before).indexOf("MARK");
    const bytes = Buffer.concat([Buffer.from(before.subarray(0, at)), Buffer.from([0xff, 0xfe]), Buffer.from(before.subarray(at))]);
    const excerpt = read(bytes, 1);
    expect(excerpt.lines).toContain("résumé ✓ \ufffd\ufffdMARK");
  });

  it("ends the excerpt at the step's end when the step wrote no error line", () => {
    const withoutError = jobLog(steps, ["killed"]).replace(/^.*##\[error\].*\n/m, "");
    const excerpt = read(withoutError, 100);
    expect(excerpt.endsWithError).toBe(false);
    expect(excerpt.lines.at(-1)).toBe("killed");
  });

  it("without the step's times, reads up to the first error line of the log", () => {
    const excerpt = read(log, 100, null as never);
    expect(excerpt.lines.at(-1)).toBe("Error: Process completed with exit code 1.");
  });

  it("cleans a line: timestamp, colours and control characters out", () => {
    expect(cleanLogLine("2024-05-01T10:00:00.1234567Z \u001b[1;31mred\u001b[0m \u001b]8;;http://x\u0007link\u001b]8;;\u0007\u0007")).toBe("red link");
  });
});
