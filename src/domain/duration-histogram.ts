/**
 * Durations counted in fixed log-spaced buckets, so that histograms of any periods and rows add
 * up, and p50/p95 are read from the sum. The buckets are those of `runboard_duration_bucket` in
 * migrations/0024_build_rollups.sql: bucket 0 holds durations under a second (GitHub's times are
 * whole seconds, so only 0), bucket k >= 1 holds [RATIO^(k-1), RATIO^k) seconds, and the last,
 * LAST_BUCKET, everything from RATIO^(LAST_BUCKET-1) seconds (35 days) on.
 *
 * A bucket [a, b) is read as 2ab / (a + b), the value whose relative distance to either end is
 * the same, (b - a) / (a + b) = (RATIO - 1) / (RATIO + 1) = PERCENTILE_ERROR. A percentile is read
 * as PostgreSQL's percentile_cont reads it (the two ranks around p * (n - 1), interpolated), with
 * each rank's value replaced by its bucket's: every value is off by at most PERCENTILE_ERROR of
 * itself, so their weighted mean is too. Within that error of percentile_cont for durations from
 * 1 second to 35 days; exact for 0.
 */
export const RATIO = 1.04;
export const LAST_BUCKET = 381;
/** (RATIO - 1) / (RATIO + 1): 1.96%. */
export const PERCENTILE_ERROR = (RATIO - 1) / (RATIO + 1);

/** Runs per bucket: bucket number to count (a bucket left out counts 0). */
export type DurationHistogram = ReadonlyMap<number, number>;

/** The bucket a duration falls in (as runboard_duration_bucket places it). */
export function durationBucket(seconds: number): number {
  if (seconds < 1) return 0;
  return Math.min(LAST_BUCKET, 1 + Math.floor(Math.log(seconds) / Math.log(RATIO)));
}

/** The value a bucket stands for: 0 for bucket 0, else 2ab / (a + b) of its ends. */
export function bucketValue(bucket: number): number {
  if (bucket <= 0) return 0;
  const low = RATIO ** (bucket - 1);
  const high = RATIO ** bucket;
  return (2 * low * high) / (low + high);
}

/** A histogram from the JSON object SQL gives back ({"bucket": count}); counts of 0 or less left out. */
export function histogramFrom(counts: Record<string, number> | null | undefined): DurationHistogram {
  const histogram = new Map<number, number>();
  for (const [bucket, count] of Object.entries(counts ?? {})) {
    if (count > 0) histogram.set(Number(bucket), count);
  }
  return histogram;
}

/**
 * A histogram from (bucket, runs) pairs as two arrays of the same length, a bucket possibly
 * repeated (SQL's runboard_array_concat of rollup rows): runs summed per bucket, totals of 0 or
 * less left out.
 */
export function histogramFromPairs(buckets: readonly number[] | null, runs: readonly number[] | null): DurationHistogram {
  const sums = new Map<number, number>();
  if (!buckets || !runs) return sums;
  if (buckets.length !== runs.length) throw new Error(`histogram pairs differ in length: ${buckets.length} buckets, ${runs.length} counts`);
  for (let i = 0; i < buckets.length; i++) sums.set(buckets[i]!, (sums.get(buckets[i]!) ?? 0) + runs[i]!);
  for (const [bucket, count] of sums) if (count <= 0) sums.delete(bucket);
  return sums;
}

/**
 * The `p` percentile (0..1) of the durations a histogram counts, as percentile_cont would give
 * it within PERCENTILE_ERROR; null for an empty histogram.
 */
export function histogramPercentile(histogram: DurationHistogram, p: number): number | null {
  const buckets = [...histogram.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const position = p * (total - 1);
  const lowerRank = Math.floor(position);
  const fraction = position - lowerRank;
  const lower = valueAtRank(buckets, lowerRank);
  if (fraction === 0) return lower;
  const upper = valueAtRank(buckets, lowerRank + 1);
  return lower + fraction * (upper - lower);
}

/** The value of the run at 0-based `rank` in duration order. */
function valueAtRank(buckets: Array<[number, number]>, rank: number): number {
  let seen = 0;
  for (const [bucket, n] of buckets) {
    seen += n;
    if (rank < seen) return bucketValue(bucket);
  }
  return bucketValue(buckets[buckets.length - 1]![0]);
}

/** The sum of histograms. */
export function addHistograms(...histograms: DurationHistogram[]): DurationHistogram {
  const sum = new Map<number, number>();
  for (const histogram of histograms) {
    for (const [bucket, n] of histogram) sum.set(bucket, (sum.get(bucket) ?? 0) + n);
  }
  return sum;
}
