/** Steps a duration axis may use, in seconds: round numbers of seconds, minutes, hours, days. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 432_000];

/**
 * Ticks for a duration axis from 0 that holds `max` seconds: the smallest round step giving at
 * most `count` steps above zero, and the axis top (the last tick, at least `max`).
 */
export function durationTicks(max: number, count = 4): { ticks: number[]; top: number } {
  const wanted = Math.max(1, max);
  const step = STEPS.find((s) => s * count >= wanted) ?? Math.ceil(wanted / count / 86_400) * 86_400;
  const top = Math.ceil(wanted / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= top; t += step) ticks.push(t);
  return { ticks, top };
}

/** A tick's label: "0", "45s", "5m", "1h 30m", "2d". */
export function formatTick(seconds: number): string {
  if (seconds === 0) return "0";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return seconds % 60 === 0 ? `${seconds / 60}m` : `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86_400) return seconds % 3600 === 0 ? `${seconds / 3600}h` : `${Math.floor(seconds / 3600)}h ${(seconds % 3600) / 60}m`;
  return seconds % 86_400 === 0 ? `${seconds / 86_400}d` : `${Math.floor(seconds / 86_400)}d ${(seconds % 86_400) / 3600}h`;
}
