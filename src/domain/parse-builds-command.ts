/** What someone asked for with `/builds`. */
export type BuildsCommand =
  | { kind: "recent"; repository: string | null; branch: string | null; failedOnly: boolean }
  | { kind: "stats"; repository: string | null; days: number }
  | { kind: "digest"; days: number }
  | { kind: "help" }
  | { kind: "link" }
  | { kind: "invalid"; message: string };

export const DEFAULT_STATS_DAYS = 7;
export const MAX_STATS_DAYS = 90;

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const WINDOW = /^(\d{1,3})d$/i;
// Git refuses these in branch names; anything else a person types is taken as a branch.
const BRANCH = /^[^\s~^:?*[\\]{1,255}$/;

/**
 * Reads the text after `/builds` as people type it:
 * `` (recent builds), `owner/repo`, `owner/repo main`, `failed`, `failed owner/repo`,
 * `stats`, `stats owner/repo`, `stats 30d`, `stats owner/repo 30d`, `digest`, `digest 30d`, `help`, `link`.
 */
export function parseBuildsCommand(text: string): BuildsCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const first = words[0]?.toLowerCase();
  if (first === "help") return words.length === 1 ? { kind: "help" } : invalid(`\`help\` takes nothing after it`);
  if (first === "link") return words.length === 1 ? { kind: "link" } : invalid(`\`link\` takes nothing after it`);
  if (first === "stats") return parseStats(words.slice(1));
  if (first === "digest") return parseDigest(words.slice(1));

  let repository: string | null = null;
  let branch: string | null = null;
  let failedOnly = false;
  for (const word of words) {
    if (word.toLowerCase() === "failed" && !failedOnly && branch === null) {
      failedOnly = true;
    } else if (repository === null && REPOSITORY.test(word)) {
      repository = word;
    } else if (repository !== null && branch === null && BRANCH.test(word)) {
      branch = word;
    } else {
      return invalid(`I did not understand \`${word}\``);
    }
  }
  return { kind: "recent", repository, branch, failedOnly };
}

function parseStats(words: string[]): BuildsCommand {
  let repository: string | null = null;
  let days: number | null = null;
  for (const word of words) {
    const window = WINDOW.exec(word);
    if (window && days === null) {
      days = Number(window[1]);
      if (days < 1 || days > MAX_STATS_DAYS) return invalid(`the window must be from 1d to ${MAX_STATS_DAYS}d`);
    } else if (repository === null && REPOSITORY.test(word)) {
      repository = word;
    } else {
      return invalid(`I did not understand \`${word}\` (try \`stats owner/repo 7d\`)`);
    }
  }
  return { kind: "stats", repository, days: days ?? DEFAULT_STATS_DAYS };
}

function parseDigest(words: string[]): BuildsCommand {
  if (words.length === 0) return { kind: "digest", days: DEFAULT_STATS_DAYS };
  const window = words.length === 1 ? WINDOW.exec(words[0]!) : null;
  if (!window) return invalid(`\`digest\` takes a window at most (try \`digest 7d\`)`);
  const days = Number(window[1]);
  if (days < 1 || days > MAX_STATS_DAYS) return invalid(`the window must be from 1d to ${MAX_STATS_DAYS}d`);
  return { kind: "digest", days };
}

function invalid(message: string): BuildsCommand {
  return { kind: "invalid", message };
}
