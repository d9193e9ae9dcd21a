import type { Build } from "../src/db/builds.js";
import type { BrokenBranch } from "../src/db/broken-branches.js";
import type { MetricsSummary } from "../src/db/build-metrics.js";
import type { TrendDay } from "../src/db/build-trends.js";
import type { QueueTotal } from "../src/db/job-metrics.js";
import { formatDuration, formatPercent } from "../src/domain/format.js";
import type { Freshness } from "../src/domain/freshness.js";
import type { HistoryProgress } from "../src/domain/history-progress.js";
import { attentionPeriods, type WorkflowAttention } from "../src/domain/workflow-attention.js";
import { DailyCharts, Sparkline } from "./charts.js";
import { BrokenNow, BuildsTable, Since, workflowHref } from "./components.js";
import { Layout } from "./layout.js";

export interface OverviewData {
  summary: MetricsSummary;
  trend: TrendDay[];
  broken: BrokenBranch[];
  recent: Build[];
  now: Date;
  freshness: Freshness[];
  /** History imports under way. */
  history: HistoryProgress[];
  /** Queue time of the window's jobs (the Runners page has the rest). */
  queue: QueueTotal;
  /** Workflows in the order they most need a look (at most a handful). */
  attention: WorkflowAttention[];
}

/** The overview: the week's figures, the trend, what is broken now and the latest builds. */
export function OverviewPage(props: { nonce: string; githubConfigured: boolean; data: OverviewData }) {
  return (
    <Layout title="Overview" nonce={props.nonce} section="overview" live>
      {!props.githubConfigured && (
        <p role="status">
          No GitHub App is configured yet: <a href="/setup">Connect to GitHub</a>, or set <code>APP_ID</code>,{" "}
          <code>PRIVATE_KEY</code> and <code>WEBHOOK_SECRET</code>, to start receiving workflow runs.
        </p>
      )}
      <h1>Overview</h1>
      <OverviewLive data={props.data} />
    </Layout>
  );
}

/**
 * The part of the overview that changes: served inside the page, alone as the fragment
 * `/fragments/overview`, and refetched when the live connection says a build changed
 * (or every 30 seconds, when live updates are unavailable). Swapped with `outerSync`, which
 * keeps this element in the page: a refresh queued while one is in flight then lands here
 * instead of on a replaced, detached copy.
 */
export function OverviewLive(props: { data: OverviewData }) {
  const { summary, trend, broken, recent, now, freshness, history, queue, attention } = props.data;
  return (
    <div
      id="overview-live"
      hx-get="/fragments/overview"
      hx-trigger="build from:#live throttle:2s, hello from:#live, every 30s"
      hx-swap="outerSync"
      aria-live="polite"
    >
      {history.length > 0 && (
        <section aria-label="History import" class="notice" data-history-import>
          {history.map((h) => (
            <p>
              {history.length > 1 ? `${h.account}: ` : ""}
              {h.text}. The charts fill in as it goes.
            </p>
          ))}
        </section>
      )}
      <section aria-labelledby="figures">
        <h2 id="figures">Last {summary.window_days} days</h2>
        <ul class="cards">
          <li>
            Success rate <span class="value" data-metric="success-rate">{formatPercent(summary.success_rate)}</span>
          </li>
          <li>
            Builds <span class="value" data-metric="builds">{summary.total_builds}</span>
          </li>
          <li>
            Average <span class="value" data-metric="average">{formatDuration(summary.avg_duration_seconds)}</span>
          </li>
          <li>
            p50 <span class="value" data-metric="p50">{formatDuration(summary.p50_duration_seconds)}</span>
          </li>
          <li>
            p95 <span class="value" data-metric="p95">{formatDuration(summary.p95_duration_seconds)}</span>
          </li>
          <li>
            Failed now <span class="value" data-metric="failed-now">{broken.length}</span>
          </li>
          <li>
            <a href="/runners">Queue p95</a> <span class="value" data-metric="queue-p95">{formatDuration(queue.p95_seconds)}</span>
          </li>
        </ul>
      </section>
      <div class="grid-2">
        <section aria-labelledby="attention">
          <h2 id="attention">Needs attention</h2>
          <NeedsAttention workflows={attention} days={summary.window_days} now={now} />
        </section>
        <section aria-labelledby="broken">
          <h2 id="broken">Broken now</h2>
          <BrokenNow broken={broken} now={now} />
        </section>
      </div>
      <section aria-labelledby="trend">
        <h2 id="trend">Daily trend, last {trend.length} days</h2>
        <DailyCharts days={trend} subject="all builds" href={(day) => `/builds?day=${day}`} />
      </section>
      <section aria-labelledby="recent">
        <h2 id="recent">Recent builds</h2>
        <BuildsTable builds={recent} caption="The latest builds, newest first" />
        <p>
          <a href="/builds">All builds</a>
        </p>
      </section>
      {freshness.length > 0 && (
        <section aria-labelledby="freshness">
          <h2 id="freshness">Data freshness</h2>
          <div class="table-wrap" tabindex={0} role="region" aria-label="Data freshness">
            <table>
              <thead>
                <tr>
                  <th scope="col">Installation</th>
                  <th scope="col" class="num">Repositories</th>
                  <th scope="col">Last synced</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {freshness.map((f) => (
                  <tr>
                    <td>{f.account}</td>
                    <td class="num">{f.repositories}</td>
                    <td>{f.last_synced_at ? <><Since since={f.last_synced_at} now={now} /> ago</> : "never"}</td>
                    <td>{f.behind ? <span class="badge badge-failed">behind: {f.reason}</span> : <span class="badge badge-success">up to date</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}

const REASONS = { red: "red now", falling: "success rate falling", slower: "slower", steady: "steady" } as const;

/** "+5.1 pts", "−12.0 pts" from a change of rate. */
function points(change: number): string {
  const value = (change * 100).toFixed(1);
  return `${change >= 0 ? "+" : "\u2212"}${value.replace("-", "")} pts`;
}

/** "+23%", "−8%" from a relative change. */
function relative(change: number): string {
  const value = Math.round(change * 100);
  return `${value >= 0 ? "+" : "\u2212"}${Math.abs(value)}%`;
}

/**
 * Per workflow: runs, success rate and p95 beside the previous period, flaky rate and the daily
 * success rate as a small line; the list is in the order of what most needs a look.
 */
export function NeedsAttention(props: { workflows: WorkflowAttention[]; days: number; now: Date }) {
  const { currentFrom, previousFrom } = attentionPeriods(props.days, props.now);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const since = day(currentFrom);
  if (props.workflows.length === 0) {
    return <p class="muted">No workflow ran since {since} (UTC).</p>;
  }
  return (
    <>
      <p class="muted">
        Since {since} (whole UTC days, today so far included), compared with {day(previousFrom)} to{" "}
        {day(new Date(currentFrom.getTime() - 86_400_000))}; red now first, then falling success rates, then slower runs.
      </p>
      <ol class="attention">
        {props.workflows.map((w) => (
          <li class={`reason-${w.reason}`}>
            <p class="attention-head">
              <a href={workflowHref(w.repository, w.workflow)}>
                <span class="wrap">{w.repository}</span> · {w.workflow}
              </a>{" "}
              <span class={`badge ${w.reason === "red" ? "badge-failed" : w.reason === "steady" ? "badge-success" : "badge-warn"}`}>{REASONS[w.reason]}</span>
            </p>
            <dl class="attention-figures">
              <div>
                <dt>Runs</dt>
                <dd>{w.runs}</dd>
              </div>
              <div>
                <dt>Success</dt>
                <dd>
                  {formatPercent(w.success_rate)}
                  {w.success_rate_change !== null && <span class="muted change"> ({points(w.success_rate_change)})</span>}
                </dd>
              </div>
              <div>
                <dt>p95</dt>
                <dd>
                  {formatDuration(w.p95_seconds)}
                  {w.p95_change !== null && <span class="muted change"> ({relative(w.p95_change)})</span>}
                </dd>
              </div>
              <div>
                <dt>Flaky</dt>
                <dd>{formatPercent(w.flaky_rate)}</dd>
              </div>
            </dl>
            <Sparkline values={w.trend} />
          </li>
        ))}
      </ol>
    </>
  );
}
