/**
 * Which rollup rows answer a window of time. Rollups count runs by the hour (the last
 * HOUR_HORIZON_DAYS days), the UTC day and the UTC month they were created in. A window is read
 * as few rows as fit: hours up to the first midnight, days up to the first month, then months,
 * and the same way down at its end; the parts of hours at its ends come from the builds. A window
 * that reaches further back than the horizon starts at midnight UTC of its first day.
 */

/**
 * Hour rows are kept this long: a week and the week before it (weekly digests and their change
 * from the week before) are then counted exactly, with a day to spare. Longer windows start at
 * midnight UTC.
 */
export const HOUR_HORIZON_DAYS = 15;

export type Grain = "hour" | "day" | "month";

/** Rollup rows of one grain whose period starts in [from, to) (no `to`: from `from` on). */
export interface UnitRange {
  grain: Grain;
  from: Date;
  to: Date | null;
}

/** A window as rollups count it: runs created from `from` to before `to` (null: no end). */
export interface CountedWindow {
  from: Date;
  to: Date | null;
}

/** How a window is read: rollup rows for its whole hours, days and months, builds for the rest. */
export interface WindowPlan {
  /** What is counted (see countedWindow). */
  counted: CountedWindow;
  units: UnitRange[];
  /** The parts of hours at its ends, read from the builds themselves (under an hour each). */
  edges: CountedWindow[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The window [since, until) (until null: up to now and beyond) as it is counted: exactly, for an
 * end within HOUR_HORIZON_DAYS before `now`; from the start of its UTC day for an end further back.
 */
export function countedWindow(since: Date, until: Date | null, now: Date): CountedWindow {
  const horizon = now.getTime() - HOUR_HORIZON_DAYS * DAY;
  const round = (t: Date) => (t.getTime() >= horizon ? t : floorTo("day", t));
  return { from: round(since), to: until === null ? null : round(until) };
}

/**
 * How to read [since, until): rollup rows for the whole hours, days and months in it (no grain
 * above `coarsest`), builds for the parts of hours at its ends.
 */
export function planWindow(since: Date, until: Date | null, now: Date, coarsest: Grain = "month"): WindowPlan {
  const counted = countedWindow(since, until, now);
  const innerFrom = ceilHour(counted.from);
  const innerTo = counted.to === null ? null : floorTo("hour", counted.to);
  if (innerTo !== null && innerTo <= innerFrom) return { counted, units: [], edges: [counted] };
  const edges: CountedWindow[] = [];
  if (innerFrom > counted.from) edges.push({ from: counted.from, to: innerFrom });
  if (innerTo !== null && counted.to! > innerTo) edges.push({ from: innerTo, to: counted.to });
  return { counted, units: unitRanges({ from: innerFrom, to: innerTo }, coarsest), edges };
}

function ceilHour(t: Date): Date {
  return new Date(Math.ceil(t.getTime() / HOUR) * HOUR);
}

/**
 * The rollup rows that count `window` exactly, coarsest first where they fit, no grain above
 * `coarsest` (the daily trend wants days, not months). At most a few ranges.
 */
export function unitRanges(window: CountedWindow, coarsest: Grain = "month"): UnitRange[] {
  const grains = (["month", "day", "hour"] as const).filter((g) => rank(g) <= rank(coarsest));
  const ranges: UnitRange[] = [];
  const push = (grain: Grain, from: Date, to: Date | null) => {
    const last = ranges[ranges.length - 1];
    if (last && last.grain === grain && last.to !== null && last.to.getTime() === from.getTime()) last.to = to;
    else ranges.push({ grain, from, to });
  };
  let at = window.from;
  while (window.to === null || at < window.to) {
    const grain = grains.find((g) => floorTo(g, at).getTime() === at.getTime() && (window.to === null || next(g, at) <= window.to));
    if (!grain) throw new Error(`a window's ends are whole hours: ${window.from.toISOString()}`);
    // With no end, the coarsest grain reached counts the rest.
    if (window.to === null && grain === coarsest) {
      push(grain, at, null);
      break;
    }
    push(grain, at, next(grain, at));
    at = next(grain, at);
  }
  return ranges;
}

function rank(grain: Grain): number {
  return grain === "hour" ? 0 : grain === "day" ? 1 : 2;
}

/** The start of the hour, UTC day or UTC month `t` is in. */
export function floorTo(grain: Grain, t: Date): Date {
  if (grain === "hour") return new Date(Math.floor(t.getTime() / HOUR) * HOUR);
  if (grain === "day") return new Date(Math.floor(t.getTime() / DAY) * DAY);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

function next(grain: Grain, t: Date): Date {
  if (grain === "hour") return new Date(t.getTime() + HOUR);
  if (grain === "day") return new Date(t.getTime() + DAY);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
}
