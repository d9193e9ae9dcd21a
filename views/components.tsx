import type { Build } from "../src/db/builds.js";
import type { BrokenBranch } from "../src/db/broken-branches.js";
import type { TrendDay } from "../src/db/build-trends.js";
import { firstLine, formatDuration, shortSha } from "../src/domain/format.js";
import type { Status } from "../src/domain/status.js";
import { successRate } from "../src/domain/success-rate.js";

export function StatusBadge(props: { status: Status | string }) {
  return <span class={`badge badge-${props.status}`}>{props.status}</span>;
}

/** ISO time in a <time> element, shown as "2026-05-04 10:25 UTC". */
export function Time(props: { value: Date | null | undefined }) {
  if (!props.value) return <span class="muted">–</span>;
  const iso = props.value.toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`}</time>;
}

/** "3h 12m" since `since`, for how long something has been red. */
export function Since(props: { since: Date; now: Date }) {
  return <>{formatDuration((props.now.getTime() - props.since.getTime()) / 1000)}</>;
}

export function BuildsTable(props: { builds: Build[]; caption: string }) {
  if (props.builds.length === 0) {
    return <p class="muted">No builds match.</p>;
  }
  return (
    <div class="table-wrap">
      <table>
        <caption class="muted">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Repository</th>
            <th scope="col">Workflow</th>
            <th scope="col">Branch</th>
            <th scope="col">Commit</th>
            <th scope="col">By</th>
            <th scope="col" class="num">Duration</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {props.builds.map((build) => (
            <tr>
              <td>
                <a href={`/builds/${build.id}`} aria-label={`Build ${build.id}: ${build.status}`}>
                  <StatusBadge status={build.status} />
                </a>
              </td>
              <td class="wrap">{build.repository}</td>
              <td class="wrap">
                <a href={workflowHref(build.repository, build.workflow)}>{build.workflow}</a>
              </td>
              <td class="wrap">{build.branch ?? ""}</td>
              <td class="message">
                <a href={`/builds/${build.id}`}>
                  <code>{shortSha(build.commit_sha)}</code>
                </a>{" "}
                {firstLine(build.commit_message)}
              </td>
              <td class="wrap">{build.triggered_by ?? ""}</td>
              <td class="num">{formatDuration(build.duration_seconds)}</td>
              <td>
                <Time value={build.started_at ?? build.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function workflowHref(repository: string, workflow: string): string {
  return `/workflows?${new URLSearchParams({ repository, workflow })}`;
}

export function BrokenNow(props: { broken: BrokenBranch[]; now: Date }) {
  if (props.broken.length === 0) {
    return <p class="muted">Nothing is broken. Every branch's latest run passed.</p>;
  }
  return (
    <ul class="broken">
      {props.broken.map((b) => (
        <li>
          <a href={`/builds/${b.build_id}`}>
            {b.repository} · {b.workflow} · {b.branch}
          </a>
          <br />
          <span class="muted">
            red for <Since since={b.red_since} now={props.now} />, {b.failed_runs} failed run{b.failed_runs === 1 ? "" : "s"}
          </span>
        </li>
      ))}
    </ul>
  );
}

/**
 * Daily success rate (left axis, 0-100%) and p50/p95 duration (right axis) as an SVG line chart,
 * drawn on the server; a data table follows for screen readers and exact values.
 */
export function TrendChart(props: { days: TrendDay[]; label: string; showRate?: boolean }) {
  const width = 640;
  const height = 180;
  const pad = { left: 36, right: 62, top: 10, bottom: 22 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const n = props.days.length;
  const x = (i: number) => pad.left + (n <= 1 ? innerW / 2 : (i * innerW) / (n - 1));
  const maxDuration = Math.max(60, ...props.days.map((d) => d.p95 ?? d.p50 ?? 0));
  const yRate = (rate: number) => pad.top + innerH * (1 - rate);
  const yDuration = (seconds: number) => pad.top + innerH * (1 - seconds / maxDuration);
  const path = (points: Array<[number, number] | null>) => {
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
  };
  const rate = path(
    props.days.map((d, i) => {
      const dayRate = successRate(d.success, d.failed);
      return dayRate === null ? null : [x(i), yRate(dayRate)];
    }),
  );
  const p50 = path(props.days.map((d, i) => (d.p50 != null ? [x(i), yDuration(d.p50)] : null)));
  const p95 = path(props.days.map((d, i) => (d.p95 != null ? [x(i), yDuration(d.p95)] : null)));
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={props.label}>
        {[0, 0.5, 1].map((t) => (
          <line class="grid" x1={pad.left} x2={width - pad.right} y1={pad.top + innerH * t} y2={pad.top + innerH * t} />
        ))}
        {props.showRate !== false && (
          <>
            <text x={pad.left - 4} y={pad.top + 4} text-anchor="end">
              100%
            </text>
            <text x={pad.left - 4} y={pad.top + innerH + 4} text-anchor="end">
              0%
            </text>
          </>
        )}
        <text x={width - pad.right + 4} y={pad.top + 4}>
          {formatDuration(maxDuration)}
        </text>
        {n > 0 && (
          <>
            <text x={pad.left} y={height - 4}>
              {props.days[0]!.day}
            </text>
            <text x={width - pad.right} y={height - 4} text-anchor="end">
              {props.days[n - 1]!.day}
            </text>
          </>
        )}
        {props.showRate !== false && rate && <path class="rate" d={rate} />}
        {p50 && <path class="p50" d={p50} />}
        {p95 && <path class="p95" d={p95} />}
      </svg>
      <figcaption>
        <ul class="legend">
          {props.showRate !== false && (
            <li>
              <span class="swatch swatch-rate"></span>success rate
            </li>
          )}
          <li>
            <span class="swatch swatch-p50"></span>p50 duration
          </li>
          <li>
            <span class="swatch swatch-p95"></span>p95 duration
          </li>
        </ul>
        <details>
          <summary>Data</summary>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col" class="num">Builds</th>
                  <th scope="col" class="num">Success</th>
                  <th scope="col" class="num">Failed</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p95</th>
                </tr>
              </thead>
              <tbody>
                {props.days.map((d) => (
                  <tr>
                    <td>{d.day}</td>
                    <td class="num">{d.total}</td>
                    <td class="num">{d.success}</td>
                    <td class="num">{d.failed}</td>
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
