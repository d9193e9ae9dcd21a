/**
 * Flaky rate = flaky runs / decided runs (those that succeeded or failed; see db/metric-sql.ts
 * for which runs count as flaky). Null when no run was decided.
 */
export function flakyRate(flaky: number, decided: number): number | null {
  return decided === 0 ? null : flaky / decided;
}
