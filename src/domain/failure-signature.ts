/** An annotation GitHub attached to a job's check run. */
export interface Annotation {
  level: string;
  message: string;
  path: string | null;
  line: number | null;
  title: string | null;
}

/** Lines that end most failures and say nothing about this one. */
const GENERIC: RegExp[] = [
  /^(?:error: )?process completed with exit code \d+\.?$/i,
  /^(?:error: )?the operation was canceled\.?$/i,
  /^(?:error: )?the runner has received a shutdown signal/i,
  /^(?:error: )?the job (?:running on runner .* )?has exceeded the maximum execution time/i,
  /^(?:error: )?the (?:job|step) was canceled/i,
  /^(?:error: )?(?:npm )?err!? *(?:code|errno) /i,
  /^(?:error: )?command failed with exit code \d+\.?$/i,
  /^(?:error: )?(?:make|gmake)(?:\[\d+\])?: \*\*\* /i,
  /^(?:error: )?error$/i,
];

/** A line that reads as an error, for a step whose `##[error]` line is generic. */
const ERRORISH = /\b(?:error|errors|failed|failure|failing|exception|panic|fatal|assert\w*|expected|cannot|can't|unable|not found|denied|refused|timed? ?out|undefined|segmentation)\b/i;

const isGeneric = (line: string) => GENERIC.some((pattern) => pattern.test(line.trim()));

/** The most specific error line of a failure: what its signature is made of. */
export function signatureLine(input: { annotations: Annotation[]; lines: string[]; endsWithError: boolean }): string | null {
  for (const annotation of input.annotations) {
    if (annotation.level !== "failure") continue;
    const first = annotation.message.split("\n").map((l) => l.trim()).find((l) => l.length > 0);
    if (first && !isGeneric(first)) return first;
  }
  const lines = input.lines;
  if (input.endsWithError && lines.length > 0) {
    const error = lines[lines.length - 1]!.replace(/^Error: /, "").trim();
    if (error && !isGeneric(error)) return error;
    for (let i = lines.length - 2; i >= 0; i--) {
      const line = lines[i]!.trim();
      if (line.startsWith("Run ") || isGeneric(line)) continue;
      if (ERRORISH.test(line)) return line;
    }
  }
  return null;
}

/**
 * An error line with what changes from one occurrence to the next taken out (addresses,
 * times, ids, hashes, paths, temporary names, numbers), so that the same failure on two runs
 * reads the same. Null when nothing specific is left.
 */
export function normalizeErrorLine(line: string): string | null {
  const normalized = line
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>")
    .replace(/\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g, "<time>")
    .replace(/\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b/g, "<time>")
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<id>")
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi, "<hex>")
    .replace(/\b0x[0-9a-f]+\b/gi, "<hex>")
    .replace(/(?:[A-Za-z]:)?(?:[\w.@~<>+-]*[/\\])+[\w.@~<>+-]*/g, "<path>")
    .replace(/\b(?:tmp|temp)[\w-]*/gi, "<tmp>")
    .replace(/\d+(?:\.\d+)*/g, "<n>")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 300);
  return (normalized.replace(/<[a-z]+>/g, "").match(/[A-Za-z]/g) ?? []).length >= 4 ? normalized : null;
}

/**
 * A job's failure signature: the most specific error line (the first failure annotation that
 * is not a generic line such as `Process completed with exit code 1.`, else the step's error
 * line, else the last line before it that reads as an error), normalized. Null when there is
 * none: a signature shared by every failure would say nothing.
 */
export function failureSignature(input: { annotations: Annotation[]; lines: string[]; endsWithError: boolean }): { line: string; signature: string } | null {
  const line = signatureLine(input);
  const signature = line ? normalizeErrorLine(line) : null;
  return line && signature ? { line, signature } : null;
}
