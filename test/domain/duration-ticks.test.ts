import { describe, expect, it } from "vitest";
import { durationTicks, formatTick } from "../../src/domain/duration-ticks.js";

describe("durationTicks", () => {
  it.each([
    [0, [0, 1], 1],
    [45, [0, 15, 30, 45], 45],
    [100, [0, 30, 60, 90, 120], 120],
    [1408, [0, 600, 1200, 1800], 1800],
    [5000, [0, 1800, 3600, 5400], 5400],
  ])("holds %s s under round steps", (max, ticks, top) => {
    expect(durationTicks(max)).toEqual({ ticks, top });
  });

  it("never gives more than the asked number of steps, and always reaches the largest value", () => {
    for (const max of [1, 7, 59, 61, 599, 3601, 86_399, 200_000, 5_000_000]) {
      const { ticks, top } = durationTicks(max, 4);
      expect(top).toBeGreaterThanOrEqual(max);
      expect(ticks.length - 1).toBeLessThanOrEqual(4);
      expect(ticks.at(-1)).toBe(top);
    }
  });
});

describe("formatTick", () => {
  it.each([
    [0, "0"],
    [45, "45s"],
    [90, "1m 30s"],
    [600, "10m"],
    [5400, "1h 30m"],
    [7200, "2h"],
    [172_800, "2d"],
  ])("%s s reads %s", (seconds, label) => {
    expect(formatTick(seconds)).toBe(label);
  });
});
