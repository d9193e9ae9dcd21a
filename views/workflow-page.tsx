import type { Build } from "../src/db/builds.js";
import type { TrendDay } from "../src/db/build-trends.js";
import type { SlowJob, WorkflowStats } from "../src/db/workflow-stats.js";
import type { QueueTotal } from "../src/db/job-metrics.js";
import type { TopFailure } from "../src/db/failure-excerpts.js";
import { formatDuration, formatPercent } from "../src/domain/format.js";
import { DailyCharts } from "./charts.js";
import { BuildsTable } from "./components.js";
import { Layout } from "./layout.js";

export interface WorkflowPageData {
  repository: string;
  workflow: string;
  days: number;
  stats: WorkflowStats;
  trend: TrendDay[];
  slowest: SlowJob[];
  recent: Build[];
  /** Queue time of the workflow's jobs over the window. */
  queue: QueueTotal;
  /** The failure signatures seen most over the window. */
  failures: TopFailure[];
}

/** One workflow of one repository: duration trend, success and flaky rates, slowest jobs. */
export function WorkflowPage(props: { nonce: string; data: WorkflowPageData }) {
  const d = props.data;
  return (
    <Layout title={`${d.workflow} · ${d.repository}`} nonce={props.nonce} section="builds">
      <p>
        <a href="/builds">← Builds</a>
      </p>
      <h1>
        {d.workflow} <span class="muted">in {d.repository}</span>
      </h1>
      <h2>Last {d.days} days</h2>
      <ul class="cards">
        <li>
          Runs <span class="value">{d.stats.total}</span>
        </li>
        <li>
          Success rate <span class="value">{formatPercent(d.stats.success_rate)}</span>
        </li>
        <li>
          Flaky rate <span class="value" data-metric="flaky-rate">{formatPercent(d.stats.flaky_rate)}</span>
        </li>
        <li>
          p50 <span class="value">{formatDuration(d.stats.p50_duration_seconds)}</span>
        </li>
        <li>
          p95 <span class="value">{formatDuration(d.stats.p95_duration_seconds)}</span>
        </li>
        <li>
          Queue p50 <span class="value" data-metric="queue-p50">{formatDuration(d.queue.p50_seconds)}</span>
        </li>
        <li>
          Queue p95 <span class="value" data-metric="queue-p95">{formatDuration(d.queue.p95_seconds)}</span>
        </li>
      </ul>
      <h2>Daily trend</h2>
      <DailyCharts
        days={d.trend}
        subject={`${d.workflow} in ${d.repository}`}
        href={(day) => `/builds?${new URLSearchParams({ repository: d.repository, workflow: d.workflow, day })}`}
      />
      <h2>Top failures</h2>
      {d.failures.length === 0 ? (
        <p class="muted">No failure with a known error in this window.</p>
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Top failures">
          <table data-top-failures>
            <thead>
              <tr>
                <th scope="col">Error</th>
                <th scope="col" class="num">Failed jobs</th>
                <th scope="col" class="num">Runs</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                <th scope="col">Branches</th>
              </tr>
            </thead>
            <tbody>
              {d.failures.map((f) => (
                <tr>
                  <td class="wrap">
                    <a href={`/builds/${f.latest_build_id}`}>
                      <code>{f.error_line ?? f.signature}</code>
                    </a>
                  </td>
                  <td class="num">{f.failures}</td>
                  <td class="num">{f.runs}</td>
                  <td>{f.first_seen.toISOString().slice(0, 10)}</td>
                  <td>{f.last_seen.toISOString().slice(0, 10)}</td>
                  <td class="wrap">{f.branches.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Slowest jobs</h2>
      {d.slowest.length === 0 ? (
        <p class="muted">No job timings yet.</p>
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Slowest jobs">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col" class="num">Runs</th>
                <th scope="col" class="num">Average</th>
                <th scope="col" class="num">Longest</th>
              </tr>
            </thead>
            <tbody>
              {d.slowest.map((job) => (
                <tr>
                  <td class="wrap">{job.name}</td>
                  <td class="num">{job.runs}</td>
                  <td class="num">{formatDuration(job.avg_seconds)}</td>
                  <td class="num">{formatDuration(job.max_seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Recent runs</h2>
      <BuildsTable builds={d.recent} caption="Newest first" />
    </Layout>
  );
}
