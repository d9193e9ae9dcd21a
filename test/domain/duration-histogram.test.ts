import { describe, expect, it } from "vitest";
import { histogramFromPairs, histogramPercentile } from "../../src/domain/duration-histogram.js";

describe("histogramFromPairs", () => {
  it("sums the runs of a bucket named more than once, and leaves out buckets whose runs add up to nothing or less", () => {
    const histogram = histogramFromPairs([40, 12, 40, 7, 12, 3], [2, 5, 3, 1, -5, -1]);
    expect([...histogram.entries()].sort((a, b) => a[0] - b[0])).toEqual([[7, 1], [40, 5]]);
    expect(histogramPercentile(histogram, 0.5)).toBe(histogramPercentile(new Map([[40, 5], [7, 1]]), 0.5));
  });

  it("refuses pairs of different lengths", () => {
    expect(() => histogramFromPairs([1, 2], [1])).toThrow(/differ in length/);
  });

  it("reads no pairs as an empty histogram", () => {
    expect(histogramFromPairs(null, null).size).toBe(0);
    expect(histogramPercentile(histogramFromPairs([], []), 0.95)).toBeNull();
  });
});
