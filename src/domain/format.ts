/** "2d 04h", "1h 02m", "3m 05s", "42s"; a dash when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d ${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/** "87.5%"; a dash when there is nothing to divide. */
export function formatPercent(rate: number | null | undefined): string {
  return rate == null ? "–" : `${(rate * 100).toFixed(1)}%`;
}

/** The subject line of a commit message. */
export function firstLine(text: string | null | undefined): string {
  return (text ?? "").split("\n", 1)[0]!.trim();
}

/** Only http(s) addresses from GitHub's data become links; anything else (javascript:) does not. */
export function httpUrl(url: string | null | undefined): string | null {
  return url && /^https?:\/\//i.test(url) ? url : null;
}

export function shortSha(sha: string | null | undefined): string {
  return (sha ?? "").slice(0, 7);
}

/** The first letter upper case. */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Text on one line (a list item, a table cell): line breaks and the space around them become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\u2028\u2029]+\s*/g, " ").trim();
}
