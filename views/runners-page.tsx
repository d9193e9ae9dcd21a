import type { HourQueue } from "../src/db/job-metrics.js";
import { formatDuration } from "../src/domain/format.js";
import { labelSetName } from "../src/domain/queue-time.js";
import type { QueueReport, UsageReport } from "../src/web/runner-insights.js";
import { workflowHref } from "./components.js";
import { Layout } from "./layout.js";

export interface RunnersPageData {
  days: number;
  repository: string | undefined;
  repositories: string[];
  queue: QueueReport;
  usage: UsageReport;
}

const WINDOWS = [1, 7, 14, 30, 90];
const minutes = (n: number) => Math.round(n).toLocaleString("en-US");

/** Runners: are jobs waiting for runners (queue time, waiting now, by hour), and the estimated minutes. */
export function RunnersPage(props: { nonce: string; data: RunnersPageData }) {
  const { days, queue, usage } = props.data;
  const waitingJobs = queue.waiting.reduce((sum, w) => sum + w.jobs, 0);
  return (
    <Layout title="Runners" nonce={props.nonce} section="runners">
      <h1>Runners</h1>
      <form class="filters" action="/runners" method="get" role="search" aria-label="Choose the window and repository">
        <label>
          Repository
          <input name="repository" list="runner-repositories" value={props.data.repository ?? ""} autocomplete="off" />
        </label>
        <datalist id="runner-repositories">
          {props.data.repositories.map((r) => (
            <option value={r} />
          ))}
        </datalist>
        <label>
          Window
          <select name="days">
            {WINDOWS.map((d) => (
              <option value={String(d)} selected={d === days}>
                {`last ${d} day${d === 1 ? "" : "s"}`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <section aria-labelledby="runner-figures">
        <h2 id="runner-figures">Last {days} days</h2>
        <ul class="cards">
          <li>
            Jobs that ran <span class="value">{queue.total.jobs}</span>
          </li>
          <li>
            Queue p50 <span class="value" data-metric="queue-p50">{formatDuration(queue.total.p50_seconds)}</span>
          </li>
          <li>
            Queue p95 <span class="value" data-metric="queue-p95">{formatDuration(queue.total.p95_seconds)}</span>
          </li>
          <li>
            Waiting now <span class="value" data-metric="waiting-now">{waitingJobs}</span>
          </li>
          <li>
            Estimated minutes <span class="value" data-metric="estimated-minutes">{minutes(usage.total.estimated_minutes)}</span>
          </li>
        </ul>
      </section>
      <section aria-labelledby="waiting-now">
        <h2 id="waiting-now">Waiting for a runner now</h2>
        {queue.waiting.length === 0 ? (
          <p class="muted">No job is waiting for a runner.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Runner labels</th>
                  <th scope="col" class="num">Jobs</th>
                  <th scope="col" class="num">Longest wait</th>
                </tr>
              </thead>
              <tbody>
                {queue.waiting.map((w) => (
                  <tr>
                    <td class="wrap">{labelSetName(w.labels)}</td>
                    <td class="num">{w.jobs}</td>
                    <td class="num">{formatDuration(w.longest_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="by-hour">
        <h2 id="by-hour">Queue time by hour of day (UTC)</h2>
        <HourChart hours={queue.by_hour} />
      </section>
      <section aria-labelledby="by-runner">
        <h2 id="by-runner">Queue time by runner</h2>
        {queue.by_runner.length === 0 ? (
          <p class="muted">No job ran in this window.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Runner labels</th>
                  <th scope="col">Runner group</th>
                  <th scope="col" class="num">Jobs</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p95</th>
                  <th scope="col" class="num">Longest</th>
                </tr>
              </thead>
              <tbody>
                {queue.by_runner.map((r) => (
                  <tr>
                    <td class="wrap">{labelSetName(r.labels)}</td>
                    <td class="wrap">{r.runner_group ?? "–"}</td>
                    <td class="num">{r.jobs}</td>
                    <td class="num">{formatDuration(r.p50_seconds)}</td>
                    <td class="num">{formatDuration(r.p95_seconds)}</td>
                    <td class="num">{formatDuration(r.max_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="by-workflow">
        <h2 id="by-workflow">Queue time by workflow</h2>
        {queue.by_workflow.length === 0 ? (
          <p class="muted">No job ran in this window.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Repository</th>
                  <th scope="col">Workflow</th>
                  <th scope="col" class="num">Jobs</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p95</th>
                </tr>
              </thead>
              <tbody>
                {queue.by_workflow.map((w) => (
                  <tr>
                    <td class="wrap">{w.repository}</td>
                    <td class="wrap">
                      <a href={workflowHref(w.repository, w.workflow)}>{w.workflow}</a>
                    </td>
                    <td class="num">{w.jobs}</td>
                    <td class="num">{formatDuration(w.p50_seconds)}</td>
                    <td class="num">{formatDuration(w.p95_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="minutes">
        <h2 id="minutes">Estimated minutes</h2>
        <p class="muted" data-estimate-note>
          An estimate, not GitHub's bill: each job's run time rounded up to the minute, times its runner's multiplier (Linux 1,
          Windows 2, macOS 10, larger runners as configured). Self-hosted runners are counted apart; standard GitHub-hosted
          runners in public repositories are free.
        </p>
        {usage.by_workflow_month.length === 0 ? (
          <p class="muted">No finished job in this window.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Month</th>
                  <th scope="col">Repository</th>
                  <th scope="col">Workflow</th>
                  <th scope="col" class="num">Jobs</th>
                  <th scope="col" class="num">Minutes</th>
                  <th scope="col" class="num">Estimated</th>
                  <th scope="col" class="num">Self-hosted</th>
                  <th scope="col" class="num">Free</th>
                </tr>
              </thead>
              <tbody>
                {usage.by_workflow_month.map((u) => (
                  <tr>
                    <td>{u.month}</td>
                    <td class="wrap">{u.repository}</td>
                    <td class="wrap">{u.workflow}</td>
                    <td class="num">{u.jobs}</td>
                    <td class="num">{minutes(u.minutes)}</td>
                    <td class="num">{minutes(u.estimated_minutes)}</td>
                    <td class="num">{minutes(u.self_hosted_minutes)}</td>
                    <td class="num">{minutes(u.free_minutes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}

/** p95 queue time per hour of day as SVG bars drawn on the server, with its data table. */
function HourChart(props: { hours: HourQueue[] }) {
  const width = 640;
  const height = 160;
  const pad = { left: 8, right: 56, top: 10, bottom: 22 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(60, ...props.hours.map((h) => h.p95_seconds ?? 0));
  const barW = innerW / 24;
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label="p95 queue time of jobs by the hour of the day they started">
        <line class="grid" x1={pad.left} x2={width - pad.right} y1={pad.top} y2={pad.top} />
        <line class="grid" x1={pad.left} x2={width - pad.right} y1={pad.top + innerH} y2={pad.top + innerH} />
        {props.hours.map((h) => {
          const barH = h.p95_seconds ? (innerH * h.p95_seconds) / max : 0;
          return <rect class="bar-queue" x={(pad.left + h.hour * barW + 1).toFixed(1)} y={(pad.top + innerH - barH).toFixed(1)} width={(barW - 2).toFixed(1)} height={barH.toFixed(1)} />;
        })}
        <text x={width - pad.right + 4} y={pad.top + 4}>
          {formatDuration(max)}
        </text>
        {[0, 6, 12, 18, 23].map((hour) => (
          <text x={(pad.left + hour * barW + barW / 2).toFixed(1)} y={height - 4} text-anchor="middle">
            {String(hour).padStart(2, "0")}
          </text>
        ))}
      </svg>
      <figcaption>
        <details>
          <summary>Data</summary>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Hour (UTC)</th>
                  <th scope="col" class="num">Jobs</th>
                  <th scope="col" class="num">p95 queue</th>
                  <th scope="col" class="num">Waited in all</th>
                </tr>
              </thead>
              <tbody>
                {props.hours.map((h) => (
                  <tr>
                    <td>{`${String(h.hour).padStart(2, "0")}:00`}</td>
                    <td class="num">{h.jobs}</td>
                    <td class="num">{formatDuration(h.p95_seconds)}</td>
                    <td class="num">{formatDuration(h.waited_seconds)}</td>
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
