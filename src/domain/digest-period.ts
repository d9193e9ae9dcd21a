/** How far back the start of a digest's period is looked for: a monthly schedule fits. */
export const MAX_DIGEST_PERIOD_DAYS = 32;

/**
 * The period a digest fired at `fireAt` covers: from the schedule's previous fire time up to
 * `fireAt`, found by testing each minute before it against the schedule (`matches`, the cron
 * expression's own test, in its time zone); at most MAX_DIGEST_PERIOD_DAYS back.
 */
export function digestPeriod(fireAt: Date, matches: (date: Date) => boolean): { start: Date; end: Date } {
  const end = floorToMinute(fireAt);
  const limit = end.getTime() - MAX_DIGEST_PERIOD_DAYS * 86_400_000;
  for (let t = end.getTime() - 60_000; t >= limit; t -= 60_000) {
    if (matches(new Date(t))) return { start: new Date(t), end };
  }
  return { start: new Date(limit), end };
}

/** The period of the same length just before `period`, for "change from the period before". */
export function periodBefore(period: { start: Date; end: Date }): { start: Date; end: Date } {
  return { start: new Date(2 * period.start.getTime() - period.end.getTime()), end: period.start };
}

export function floorToMinute(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 60_000) * 60_000);
}

/** Change of a rate between periods, in percentage points; null when either is unknown. */
export function rateChange(current: number | null, before: number | null): number | null {
  return current === null || before === null ? null : (current - before) * 100;
}

/** Change of a duration between periods, as a fraction (+0.4 is 40% slower); null when unknown. */
export function durationTrend(current: number | null, before: number | null): number | null {
  return current === null || before === null || before === 0 ? null : (current - before) / before;
}
