/**
 * Success rate = success / (success + failed): cancelled and skipped runs did not run their
 * course, so they move it neither way. Null when no run succeeded or failed.
 */
export function successRate(success: number, failed: number): number | null {
  const decided = success + failed;
  return decided === 0 ? null : success / decided;
}
