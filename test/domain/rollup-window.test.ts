import { describe, expect, it } from "vitest";
import { HOUR_HORIZON_DAYS, floorTo, planWindow, type Grain, type UnitRange } from "../../src/domain/rollup-window.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = new Date("2026-03-02T10:17:31.250Z");

function next(grain: Grain, t: Date): Date {
  if (grain === "hour") return new Date(t.getTime() + HOUR);
  if (grain === "day") return new Date(t.getTime() + DAY);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
}

/** Every hour of [from, to) the units count, by walking each unit; throws on a gap or an overlap. */
function coveredHours(units: UnitRange[], end: Date): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const u of units) {
    for (let t = u.from; u.to === null ? t < end : t < u.to; t = next(u.grain, t)) {
      expect(floorTo(u.grain, t)).toEqual(t);
      spans.push([t.getTime(), next(u.grain, t).getTime()]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBe(spans[i - 1]![1]);
  return spans;
}

describe("planWindow", () => {
  it("counts a window exactly within the horizon: rollup units for its whole hours, builds for the rest", () => {
    for (const days of [0.01, 1, 6.99, 7, 14, 15]) {
      const since = new Date(NOW.getTime() - days * DAY);
      const plan = planWindow(since, null, NOW);
      expect(plan.counted).toEqual({ from: since, to: null });
      const spans = coveredHours(plan.units, new Date(NOW.getTime() + DAY));
      const edge = plan.edges[0];
      const unitsFrom = spans.length ? spans[0]![0] : Infinity;
      if (edge) {
        expect(edge.from).toEqual(since);
        expect(edge.to!.getTime()).toBe(Math.min(unitsFrom, Math.ceil(since.getTime() / HOUR) * HOUR));
      } else {
        expect(unitsFrom).toBe(since.getTime());
      }
      // the last unit has no end: it counts everything from there on
      expect(plan.units[plan.units.length - 1]?.to ?? null).toBeNull();
      expect(plan.units.every((u) => u.grain !== "hour" || u.from.getTime() >= NOW.getTime() - HOUR_HORIZON_DAYS * DAY)).toBe(true);
    }
  });

  it("starts a window that reaches past the horizon at midnight UTC, and reads it in few units", () => {
    const plan = planWindow(new Date(NOW.getTime() - 90 * DAY), null, NOW);
    expect(plan.counted.from).toEqual(new Date("2025-12-02T00:00:00Z"));
    expect(plan.edges).toEqual([]);
    expect(plan.units.map((u) => u.grain)).toEqual(["day", "month"]);
    expect(plan.units[0]).toEqual({ grain: "day", from: new Date("2025-12-02T00:00:00Z"), to: new Date("2026-01-01T00:00:00Z") });
    expect(plan.units[1]).toEqual({ grain: "month", from: new Date("2026-01-01T00:00:00Z"), to: null });
  });

  it("reads a closed period down to the minute: builds at its ends, no unit past its end", () => {
    const start = new Date("2026-02-23T09:30:00Z");
    const end = new Date("2026-03-02T09:45:00Z");
    const plan = planWindow(start, end, end);
    expect(plan.edges).toEqual([
      { from: start, to: new Date("2026-02-23T10:00:00Z") },
      { from: new Date("2026-03-02T09:00:00Z"), to: end },
    ]);
    const spans = coveredHours(plan.units, end);
    expect(spans[0]![0]).toBe(Date.parse("2026-02-23T10:00:00Z"));
    expect(spans[spans.length - 1]![1]).toBe(Date.parse("2026-03-02T09:00:00Z"));
    expect(plan.units).toEqual([
      { grain: "hour", from: new Date("2026-02-23T10:00:00Z"), to: new Date("2026-02-24T00:00:00Z") },
      { grain: "day", from: new Date("2026-02-24T00:00:00Z"), to: new Date("2026-03-02T00:00:00Z") },
      { grain: "hour", from: new Date("2026-03-02T00:00:00Z"), to: new Date("2026-03-02T09:00:00Z") },
    ]);
    const short = planWindow(new Date("2026-03-02T08:58:00Z"), new Date("2026-03-02T08:59:00Z"), NOW);
    expect(short.units).toEqual([]);
    expect(short.edges).toEqual([{ from: new Date("2026-03-02T08:58:00Z"), to: new Date("2026-03-02T08:59:00Z") }]);
  });
});
