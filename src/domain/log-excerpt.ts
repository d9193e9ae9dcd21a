import { redactSecrets } from "./redact-secrets.js";

/** An excerpt keeps at most this many lines of the failed step. */
export const EXCERPT_MAX_LINES = 40;
/** A longer line is cut to this many characters (minified output, base64 dumps). */
export const EXCERPT_MAX_LINE_CHARS = 300;
/** An excerpt is at most this many bytes of UTF-8: its first lines go first. */
export const EXCERPT_MAX_BYTES = 4_096;
/** A line longer than this in the log is only kept up to here while reading it. */
const RAW_LINE_LIMIT = 16_384;

/** The failed step's times as the job reported them (whole seconds), when it did. */
export interface StepWindow {
  startedAt: Date | null;
  completedAt: Date | null;
}

export interface LogExcerpt {
  /** The step's last lines, cleaned, up to and including its first error line. */
  lines: string[];
  /** Whether the last line is the step's first `##[error]` line. */
  endsWithError: boolean;
}

export interface LogExcerptReader {
  /** Feeds the next bytes of the log; true once the excerpt is complete and reading may stop. */
  push(chunk: Uint8Array): boolean;
  /** The excerpt, after the last chunk (or once `push` said it is complete). */
  end(): LogExcerpt;
}

const TIMESTAMP = /^\uFEFF?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) ?/;
// CSI and OSC sequences, other two-character escapes, and the control characters left after them.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
/** The first line of a post step, and of the job's last step: the failed step is over. */
const AFTER_STEPS = /^(?:Post job cleanup\.|Cleaning up orphan processes)$/;

/** A log line without its timestamp, colours and control characters, cut when very long. */
export function cleanLogLine(line: string): string {
  // Redacted before it is cut: a token split at the cut could no longer be recognised.
  const text = redactSecrets(line.replace(TIMESTAMP, "").replace(ANSI, "").replace(CONTROL, "").replace(/\s+$/, ""));
  if (text.length <= EXCERPT_MAX_LINE_CHARS) return text;
  const chars = [...text];
  return chars.length <= EXCERPT_MAX_LINE_CHARS ? text : `${chars.slice(0, EXCERPT_MAX_LINE_CHARS - 1).join("")}…`;
}

/** GitHub's workflow commands as a reader sees them on the page. */
function forReading(line: string): string {
  return line
    .replace(/^##\[error\]/, "Error: ")
    .replace(/^##\[warning\]/, "Warning: ")
    .replace(/^##\[(?:group|notice|debug)\]/, "");
}

/**
 * Reads a job's log as it streams in, with bounded memory, and keeps the end of its failed
 * step. Steps are marked in the log by `##[group]Run <command>` lines (a composite action's
 * inner steps too), not by their names, so the step is found by time: its lines are those
 * stamped from the step's start to the end of its last second (the job reports whole seconds),
 * and the order of the log ends it sooner: a post step's first line, or a `Run` marker in that
 * last second. A ring of the last EXCERPT_MAX_LINES lines since the latest `Run` marker inside
 * the window is kept; the step's first `##[error]` line completes the excerpt, and so does the
 * step's end (a step that failed without an error line). Without
 * the step's times, the whole log is the window. Invalid UTF-8 becomes U+FFFD; `##[endgroup]`
 * lines are left out.
 */
export function createLogExcerptReader(step: StepWindow | null): LogExcerptReader {
  // Times compared as GitHub writes them, to the second ("2026-07-01T10:00:27"): the step's
  // times are whole seconds, and text compares in time order without parsing every line.
  const second = (date: Date | null | undefined, otherwise: string) => (date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(0, 19) : otherwise);
  const from = second(step?.startedAt, "");
  const end = second(step?.completedAt, "\uffff");
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending = "";
  // A line longer than RAW_LINE_LIMIT: its rest is skipped up to the next newline.
  let skipping = false;
  let lastTime = "";
  let ring: string[] = [];
  let done: LogExcerpt | null = null;

  function line(raw: string) {
    if (done) return;
    const at = raw.charCodeAt(0) === 0xfeff ? 1 : 0;
    // "YYYY-MM-DDTHH:MM:SS": a dash at 4, a T at 10, a colon at 16.
    if (raw.charCodeAt(at + 4) === 45 && raw.charCodeAt(at + 10) === 84 && raw.charCodeAt(at + 16) === 58) lastTime = raw.slice(at, at + 19);
    // Before the step: nothing to keep, and no need to clean what is not kept (most of a long log).
    if (lastTime < from) return;
    const text = cleanLogLine(raw);
    const isRun = text.startsWith("##[group]Run ");
    // Past the step's last second, or the next step begun in it: the step is over.
    if (lastTime > end || (ring.length > 0 && (AFTER_STEPS.test(text) || (isRun && lastTime === end)))) {
      done = { lines: ring, endsWithError: false };
      return;
    }
    if (isRun) ring = [];
    if (text === "##[endgroup]") return;
    ring.push(text);
    if (ring.length > EXCERPT_MAX_LINES) ring.shift();
    if (text.startsWith("##[error]")) done = { lines: ring, endsWithError: true };
  }

  function take(text: string, final: boolean) {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1 && !done; nl = text.indexOf("\n", start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        line(pending);
        pending = "";
        continue;
      }
      line((pending + piece).replace(/\r$/, ""));
      pending = "";
    }
    if (done) return;
    if (!skipping) {
      pending += text.slice(start);
      if (pending.length > RAW_LINE_LIMIT) {
        pending = pending.slice(0, RAW_LINE_LIMIT);
        skipping = true;
      }
    }
    if (final && pending) {
      line(pending.replace(/\r$/, ""));
      pending = "";
    }
  }

  return {
    push(chunk) {
      if (!done) take(decoder.decode(chunk, { stream: true }), false);
      return done !== null;
    },
    end() {
      if (!done) take(decoder.decode(), true);
      const result = done ?? { lines: ring, endsWithError: false };
      const lines = result.lines.map(forReading);
      let bytes = lines.reduce((total, l) => total + Buffer.byteLength(l) + 1, 0);
      while (bytes > EXCERPT_MAX_BYTES && lines.length > 1) bytes -= Buffer.byteLength(lines.shift()!) + 1;
      return { lines, endsWithError: result.endsWithError };
    },
  };
}
