import type { Build } from "../src/db/builds.js";
import type { MetricsSummary } from "../src/db/build-metrics.js";
import { firstLine, formatDuration, formatPercent } from "../src/domain/format.js";
import { Layout } from "./layout.js";

/** The overview: this week's figures and the most recent builds. */
export function OverviewPage(props: { summary: MetricsSummary; builds: Build[]; githubConfigured: boolean }) {
  const { summary } = props;
  return (
    <Layout title="Overview">
      {!props.githubConfigured && (
        <p role="status">
          No GitHub App is configured yet: set <code>APP_ID</code>, <code>PRIVATE_KEY</code> and{" "}
          <code>WEBHOOK_SECRET</code> to start receiving workflow runs.
        </p>
      )}
      <h1>Last {summary.window_days} days</h1>
      <ul class="cards">
        <li>
          Success rate <strong>{formatPercent(summary.success_rate)}</strong>
        </li>
        <li>
          Builds <strong>{summary.total_builds}</strong>
        </li>
        <li>
          Average <strong>{formatDuration(summary.avg_duration_seconds)}</strong>
        </li>
        <li>
          p50 <strong>{formatDuration(summary.p50_duration_seconds)}</strong>
        </li>
        <li>
          p95 <strong>{formatDuration(summary.p95_duration_seconds)}</strong>
        </li>
        <li>
          Failed <strong>{summary.by_status.failed}</strong>
        </li>
      </ul>
      <h2>Recent builds</h2>
      <BuildsTable builds={props.builds} />
    </Layout>
  );
}

export function BuildsTable(props: { builds: Build[] }) {
  if (props.builds.length === 0) {
    return <p class="muted">No builds recorded yet.</p>;
  }
  return (
    <div class="table-wrap">
      <table>
        <caption class="muted">Newest first</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Repository</th>
            <th scope="col">Workflow</th>
            <th scope="col">Branch</th>
            <th scope="col">Commit</th>
            <th scope="col">By</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {props.builds.map((build) => (
            <tr>
              <td>
                <span class={`badge badge-${build.status}`}>{build.status}</span>
              </td>
              <td>{build.repository}</td>
              <td>{build.url ? <a href={safeUrl(build.url)}>{build.workflow}</a> : build.workflow}</td>
              <td>{build.branch ?? ""}</td>
              <td class="message">
                <code>{(build.commit_sha ?? "").slice(0, 7)}</code> {firstLine(build.commit_message)}
              </td>
              <td>{build.triggered_by ?? ""}</td>
              <td>{formatDuration(build.duration_seconds)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Only http(s) links from GitHub data become hrefs: no javascript: URLs. */
function safeUrl(url: string): string {
  return /^https?:\/\//i.test(url) ? url : "#";
}
