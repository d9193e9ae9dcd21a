import type { BuildDetail } from "../src/db/builds.js";
import type { JobDetail } from "../src/db/build-jobs.js";
import { annotationPlace, describeFlaky, describeSeenBefore, fileUrl, type FailureInsight } from "../src/domain/failure-insight.js";
import { capitalize, formatDuration, httpUrl, oneLine, shortSha } from "../src/domain/format.js";
import { StatusBadge, Time, workflowHref } from "./components.js";
import { Layout } from "./layout.js";

export interface BuildPageData {
  build: BuildDetail;
  jobs: JobDetail[];
  /** The attempt shown; the build's current one unless the URL asks for another. */
  attempt: number;
  /** What was read of each failed job's failure, by job id. */
  insights?: Map<number, FailureInsight>;
  /** For "seen before" (since Tuesday...). */
  now?: Date;
}

/** One run: facts, attempts, jobs as a timeline with their steps, raw payload on demand. */
export function BuildPage(props: { nonce: string; data: BuildPageData }) {
  const b = props.data.build;
  return (
    <Layout title={`${b.workflow} #${b.external_id}`} nonce={props.nonce} section="builds" live={{ build: b.id }}>
      <p>
        <a href="/builds">← Builds</a>
      </p>
      <BuildLive data={props.data} />
      <section aria-labelledby="raw">
        <h2 id="raw">Raw payload</h2>
        <button type="button" hx-get={`/builds/${b.id}/payload`} hx-target="#payload" hx-swap="innerHTML">
          Show the payload GitHub sent
        </button>
        <div id="payload"></div>
      </section>
    </Layout>
  );
}

/** The changing part of the build page, refreshed when this build changes. */
export function BuildLive(props: { data: BuildPageData }) {
  const { build: b, jobs, attempt } = props.data;
  const attempts = [...new Set([...jobs.map((j) => j.run_attempt), b.run_attempt])].sort((x, y) => x - y);
  const shown = jobs.filter((j) => j.run_attempt === attempt);
  const github = httpUrl(b.url);
  const self = `/builds/${b.id}${attempt === b.run_attempt ? "" : `?attempt=${attempt}`}`;
  return (
    <div
      id="build-live"
      hx-get={`${self}${self.includes("?") ? "&" : "?"}fragment=1`}
      hx-trigger="build from:#live throttle:2s, hello from:#live, every 30s"
      hx-swap="outerSync"
      aria-live="polite"
    >
      <h1>
        <StatusBadge status={b.status} /> {b.workflow} <span class="muted">#{b.external_id}</span>
      </h1>
      <dl class="facts">
        <dt>Repository</dt>
        <dd>{b.repository}</dd>
        <dt>Workflow</dt>
        <dd>
          <a href={workflowHref(b.repository, b.workflow)}>{b.workflow}</a>
        </dd>
        <dt>Branch</dt>
        <dd>{b.branch ?? "–"}</dd>
        <dt>Commit</dt>
        <dd>
          <code>{shortSha(b.commit_sha)}</code> {b.commit_message ?? ""}
        </dd>
        <dt>Triggered by</dt>
        <dd>
          {b.triggered_by ?? "–"} <span class="muted">({b.event ?? "unknown event"})</span>
        </dd>
        <dt>Status</dt>
        <dd>
          {b.status}
          {b.conclusion ? <span class="muted"> (GitHub: {b.conclusion})</span> : null}
        </dd>
        <dt>Started</dt>
        <dd>
          <Time value={b.started_at} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time value={b.finished_at} />
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(b.duration_seconds)}</dd>
        <dt>On GitHub</dt>
        <dd>{github ? <a href={github}>Open the run on GitHub</a> : "–"}</dd>
      </dl>
      {attempts.length > 1 && (
        <nav aria-label="Attempts" class="pager">
          Attempts:
          {attempts.map((n) =>
            n === attempt ? (
              <strong aria-current="page">#{n}</strong>
            ) : (
              <a href={`/builds/${b.id}${n === b.run_attempt ? "" : `?attempt=${n}`}`}>#{n}</a>
            ),
          )}
        </nav>
      )}
      <h2>Jobs{attempts.length > 1 ? ` of attempt ${attempt}` : ""}</h2>
      {shown.length === 0 ? (
        <p class="muted">No jobs recorded for this attempt yet.</p>
      ) : (
        <JobTimeline jobs={shown} insights={props.data.insights ?? new Map()} now={props.data.now ?? new Date()} commitSha={b.commit_sha} runUrl={b.url} />
      )}
    </div>
  );
}

/** Jobs on a shared time axis: the grey part is the wait for a runner, the coloured part the run. */
function JobTimeline(props: { jobs: JobDetail[]; insights: Map<number, FailureInsight>; now: Date; commitSha: string | null; runUrl: string | null }) {
  const times = props.jobs.flatMap((j) => [j.queued_at, j.started_at, j.completed_at]).filter((t): t is Date => t !== null);
  const start = Math.min(...times.map((t) => t.getTime()));
  const end = Math.max(...times.map((t) => t.getTime()), start + 1000);
  const width = 600;
  const scale = (t: Date | null) => (t ? ((t.getTime() - start) / (end - start)) * width : 0);
  return (
    <ol class="jobs" aria-label="Jobs">
      {props.jobs.map((job) => {
        const queued = scale(job.queued_at ?? job.started_at);
        const started = job.started_at ? scale(job.started_at) : queued;
        const finished = job.completed_at ? scale(job.completed_at) : started + 2;
        return (
          <li>
            <p>
              <StatusBadge status={job.status} />{" "}
              {httpUrl(job.url) ? <a href={httpUrl(job.url)!}>{job.name}</a> : job.name}{" "}
              <span class="muted">
                waited {formatDuration(job.queue_seconds)}, ran {formatDuration(job.run_seconds)}
                {job.runner_labels.length ? ` on ${job.runner_labels.join(", ")}` : ""}
              </span>
            </p>
            {times.length > 0 && (
              <svg class="timeline chart" viewBox={`0 0 ${width} 12`} role="img" aria-label={`${job.name}: waited ${formatDuration(job.queue_seconds)}, ran ${formatDuration(job.run_seconds)}`}>
                <rect class="wait" x={queued.toFixed(1)} y="3" width={Math.max(0, started - queued).toFixed(1)} height="6" />
                <rect class={`bar-${job.status}`} x={started.toFixed(1)} y="1" width={Math.max(2, finished - started).toFixed(1)} height="10" />
              </svg>
            )}
            {job.steps.length > 0 && (
              <details open={job.status === "failed"}>
                <summary>{job.steps.length} steps{job.failed_step ? `, failed at “${job.failed_step}”` : ""}</summary>
                <ol class="steps">
                  {job.steps.map((step) => (
                    <li class={`step-${step.status}`}>
                      {step.name} <span class="muted">({step.conclusion ?? step.status})</span>
                    </li>
                  ))}
                </ol>
                {props.insights.has(job.id) && <FailureDetail job={job} insight={props.insights.get(job.id)!} now={props.now} commitSha={props.commitSha} runUrl={props.runUrl} />}
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/** Why a job failed, as GitHub told it: "seen before", annotations linked to the commit's files, the error excerpt. */
function FailureDetail(props: { job: JobDetail; insight: FailureInsight; now: Date; commitSha: string | null; runUrl: string | null }) {
  const { insight } = props;
  if (insight.status === "pending") return <p class="muted">Reading the error from GitHub…</p>;
  const notes = [describeSeenBefore(insight.seenBefore, props.now), describeFlaky(insight)].filter((n): n is string => n !== null);
  return (
    <div class="failure">
      {notes.map((note) => (
        <p class="seen-before">{capitalize(note)}</p>
      ))}
      {insight.annotations.length > 0 && (
        <ul class="annotations" aria-label="Annotations">
          {insight.annotations.map((a) => {
            const url = a.path ? fileUrl(props.runUrl ?? props.job.url, props.commitSha, a.path, a.line) : null;
            return (
              <li class={`annotation-${a.level === "failure" ? "failure" : a.level === "warning" ? "warning" : "notice"}`}>
                {annotationPlace(a) && (url ? <a href={url}><code>{annotationPlace(a)}</code></a> : <code>{annotationPlace(a)}</code>)}{" "}
                {oneLine(a.message)}
              </li>
            );
          })}
        </ul>
      )}
      {insight.lines.length > 0 ? (
        <pre class="excerpt" aria-label="Error excerpt">{insight.lines.join("\n")}</pre>
      ) : (
        insight.missingReason && <p class="muted">No error excerpt: {insight.missingReason}.</p>
      )}
    </div>
  );
}
