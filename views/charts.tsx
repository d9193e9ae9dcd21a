import type { TrendDay } from "../src/db/build-trends.js";
import { durationTicks, formatTick } from "../src/domain/duration-ticks.js";
import { formatDuration, formatPercent } from "../src/domain/format.js";
import { successRate } from "../src/domain/success-rate.js";

/*
 * Charts drawn on the server as SVG, one panel per unit (a success rate and a duration never
 * share an axis). Each day is a link to that day's builds; hovering or focusing it shows its
 * values in the panel's top line (plain CSS: `a.day:hover + .readout`), and its <title> names
 * them for screen readers. A table of the same figures sits beside every chart.
 */

const W = 480;
const H = 230;
const PAD = { left: 46, right: 10, top: 30, bottom: 34 };
const INNER_W = W - PAD.left - PAD.right;
const INNER_H = H - PAD.top - PAD.bottom;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-12-04" as "Dec 4". */
export function shortDay(day: string): string {
  return `${MONTHS[Number(day.slice(5, 7)) - 1] ?? day.slice(5, 7)} ${Number(day.slice(8, 10))}`;
}

interface Slots {
  n: number;
  width: number;
  /** The centre of day `i`. */
  x: (i: number) => number;
}

function slotsOf(n: number): Slots {
  const width = INNER_W / Math.max(1, n);
  return { n, width, x: (i) => PAD.left + width * (i + 0.5) };
}

/** A path through the points, lifting the pen where a day has no value. */
function linePath(points: Array<[number, number] | null>): string {
  let d = "";
  let pen = false;
  for (const point of points) {
    if (!point) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${point[0].toFixed(1)},${point[1].toFixed(1)} `;
    pen = true;
  }
  return d.trim();
}

/** Grid lines and labels of the y axis, and the day labels of the x axis (hidden from screen readers: the table has them). */
function Axes(props: { slots: Slots; days: TrendDay[]; ticks: Array<{ y: number; label: string }> }) {
  const { slots, days } = props;
  const every = Math.max(1, Math.ceil(days.length / 7));
  return (
    <g class="axes" aria-hidden="true">
      {props.ticks.map((t) => (
        <>
          <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={t.y.toFixed(1)} y2={t.y.toFixed(1)} />
          <text class="tick" x={PAD.left - 6} y={(t.y + 4).toFixed(1)} text-anchor="end">
            {t.label}
          </text>
        </>
      ))}
      {days.map((d, i) =>
        i % every === 0 ? (
          <text class={(i / every) % 2 === 1 ? "tick minor" : "tick"} x={slots.x(i).toFixed(1)} y={H - 6} text-anchor="middle">
            {shortDay(d.day)}
          </text>
        ) : null,
      )}
    </g>
  );
}

/** A red mark under the axis on each day with a failed build. */
function FailedMarks(props: { slots: Slots; days: TrendDay[] }) {
  return (
    <g aria-hidden="true">
      {props.days.map((d, i) =>
        d.failed > 0 ? <circle class="failed-mark" cx={props.slots.x(i).toFixed(1)} cy={PAD.top + INNER_H + 7} r="3" /> : null,
      )}
    </g>
  );
}

/** The focusable, hoverable column of each day: a link to its builds, and the values it shows. */
function DayLinks(props: { slots: Slots; days: TrendDay[]; href: (day: string) => string; describe: (d: TrendDay) => string }) {
  const { slots } = props;
  return (
    <>
      {props.days.map((d, i) => {
        const text = props.describe(d);
        return (
          <>
            <a class="day" href={props.href(d.day)}>
              <title>{`${text}. Show the builds of this day.`}</title>
              <rect class="hit" x={(slots.x(i) - slots.width / 2).toFixed(1)} y={PAD.top} width={slots.width.toFixed(1)} height={INNER_H + 12} />
            </a>
            <text class="readout" x={W - PAD.right} y="16" text-anchor="end" aria-hidden="true">
              {text}
            </text>
          </>
        );
      })}
    </>
  );
}

function failedText(d: TrendDay): string {
  return d.failed > 0 ? `, ${d.failed} failed` : "";
}

/** Daily success rate as bars from 0 to 100%: the green part succeeded, the red part above it failed. */
export function SuccessRatePanel(props: { days: TrendDay[]; label: string; href: (day: string) => string }) {
  const slots = slotsOf(props.days.length);
  const y = (rate: number) => PAD.top + INNER_H * (1 - rate);
  const bar = Math.max(2, slots.width * 0.64);
  const latest = [...props.days].reverse().find((d) => successRate(d.success, d.failed) !== null);
  const describe = (d: TrendDay) => {
    const rate = successRate(d.success, d.failed);
    return rate === null
      ? `${shortDay(d.day)}: no finished builds`
      : `${shortDay(d.day)}: ${formatPercent(rate)} of ${d.success + d.failed}${failedText(d)}`;
  };
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="group" aria-label={props.label}>
      <Axes slots={slots} days={props.days} ticks={[0, 0.25, 0.5, 0.75, 1].map((t) => ({ y: y(t), label: `${t * 100}%` }))} />
      <g aria-hidden="true">
        {props.days.map((d, i) => {
          const rate = successRate(d.success, d.failed);
          if (rate === null) return null;
          const left = (slots.x(i) - bar / 2).toFixed(1);
          return (
            <>
              <rect class="bar-ok" x={left} y={y(rate).toFixed(1)} width={bar.toFixed(1)} height={(INNER_H * rate).toFixed(1)} />
              {rate < 1 && <rect class="bar-bad" x={left} y={PAD.top} width={bar.toFixed(1)} height={(INNER_H * (1 - rate)).toFixed(1)} />}
            </>
          );
        })}
      </g>
      <FailedMarks slots={slots} days={props.days} />
      <text class="readout-default" x={W - PAD.right} y="16" text-anchor="end" aria-hidden="true">
        {latest ? `Latest: ${describe(latest)}` : "No finished builds yet"}
      </text>
      <DayLinks slots={slots} days={props.days} href={props.href} describe={describe} />
    </svg>
  );
}

/** Daily p50 (solid) and p95 (dashed) duration of the builds that succeeded or failed. */
export function DurationPanel(props: { days: TrendDay[]; label: string; href: (day: string) => string }) {
  const slots = slotsOf(props.days.length);
  const { ticks, top } = durationTicks(Math.max(0, ...props.days.map((d) => d.p95 ?? d.p50 ?? 0)));
  const y = (seconds: number) => PAD.top + INNER_H * (1 - seconds / top);
  const points = (pick: (d: TrendDay) => number | null) =>
    props.days.map((d, i): [number, number] | null => {
      const value = pick(d);
      return value === null ? null : [slots.x(i), y(value)];
    });
  const p50 = points((d) => d.p50);
  const p95 = points((d) => d.p95);
  const latest = [...props.days].reverse().find((d) => d.p50 !== null);
  const describe = (d: TrendDay) =>
    d.p50 === null ? `${shortDay(d.day)}: no finished builds` : `${shortDay(d.day)}: p50 ${formatDuration(d.p50)}, p95 ${formatDuration(d.p95)}${failedText(d)}`;
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="group" aria-label={props.label}>
      <Axes slots={slots} days={props.days} ticks={ticks.map((t) => ({ y: y(t), label: formatTick(t) }))} />
      <g aria-hidden="true">
        <path class="p95" d={linePath(p95)} />
        <path class="p50" d={linePath(p50)} />
        {p95.map((p) => (p ? <circle class="dot-p95" cx={p[0].toFixed(1)} cy={p[1].toFixed(1)} r="2.5" /> : null))}
        {p50.map((p) => (p ? <circle class="dot-p50" cx={p[0].toFixed(1)} cy={p[1].toFixed(1)} r="2.5" /> : null))}
      </g>
      <FailedMarks slots={slots} days={props.days} />
      <text class="readout-default" x={W - PAD.right} y="16" text-anchor="end" aria-hidden="true">
        {latest ? `Latest: ${describe(latest)}` : "No finished builds yet"}
      </text>
      <DayLinks slots={slots} days={props.days} href={props.href} describe={describe} />
    </svg>
  );
}

/**
 * The daily trend of a set of builds: success rate and duration side by side (stacked on a
 * phone), each day linking to `href(day)`, and the figures as a table for screen readers.
 */
export function DailyCharts(props: { days: TrendDay[]; subject: string; href: (day: string) => string }) {
  const { days, subject } = props;
  return (
    <figure class="daily-charts">
      <div class="panels">
        <div class="panel">
          <h3>Success rate, % of finished builds</h3>
          <SuccessRatePanel days={days} href={props.href} label={`Daily success rate of ${subject}, ${days.length} days; each day links to its builds`} />
        </div>
        <div class="panel">
          <h3>Duration, p50 and p95</h3>
          <DurationPanel days={days} href={props.href} label={`Daily p50 and p95 duration of ${subject}, ${days.length} days; each day links to its builds`} />
        </div>
      </div>
      <figcaption>
        <ul class="legend">
          <li>
            <span class="swatch swatch-ok"></span>succeeded
          </li>
          <li>
            <span class="swatch swatch-bad"></span>failed
          </li>
          <li>
            <span class="swatch swatch-p50"></span>p50 duration
          </li>
          <li>
            <span class="swatch swatch-p95"></span>p95 duration
          </li>
          <li>
            <span class="dot-bad"></span>a day with a failed build
          </li>
        </ul>
        <p class="muted hint">Hover over or focus a day to read its values; open it to see its builds.</p>
        <details>
          <summary>Data</summary>
          <div class="table-wrap" tabindex={0} role="region" aria-label={`Daily figures of ${subject}`}>
            <table>
              <caption class="visually-hidden">Daily figures of {subject}</caption>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col" class="num">Builds</th>
                  <th scope="col" class="num">Succeeded</th>
                  <th scope="col" class="num">Failed</th>
                  <th scope="col" class="num">Success rate</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p95</th>
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr>
                    <th scope="row">
                      <a href={props.href(d.day)}>{d.day}</a>
                    </th>
                    <td class="num">{d.total}</td>
                    <td class="num">{d.success}</td>
                    <td class="num">{d.failed}</td>
                    <td class="num">{formatPercent(successRate(d.success, d.failed))}</td>
                    <td class="num">{formatDuration(d.p50)}</td>
                    <td class="num">{formatDuration(d.p95)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}

/** A small line of daily success rates (0-100%), for a row of a list; its figures are beside it in text. */
export function Sparkline(props: { values: Array<number | null> }) {
  const n = props.values.length;
  const x = (i: number) => (n <= 1 ? 50 : 2 + (i * 96) / (n - 1));
  const y = (rate: number) => 2 + 20 * (1 - rate);
  const points = props.values.map((v, i): [number, number] | null => (v === null ? null : [x(i), y(v)]));
  const last = [...points].reverse().find((p) => p !== null);
  return (
    <svg class="spark" viewBox="0 0 100 24" aria-hidden="true" focusable="false">
      <line class="grid" x1="2" x2="98" y1="2" y2="2" />
      <line class="grid" x1="2" x2="98" y1="22" y2="22" />
      <path d={linePath(points)} />
      {last && <circle cx={last[0].toFixed(1)} cy={last[1].toFixed(1)} r="2" />}
    </svg>
  );
}
