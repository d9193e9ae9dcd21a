import type { Build } from "../src/db/builds.js";
import type { BrokenBranch } from "../src/db/broken-branches.js";
import { firstLine, formatDuration, shortSha } from "../src/domain/format.js";
import type { Status } from "../src/domain/status.js";

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
    <div class="builds">
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
      <BuildCards builds={props.builds} caption={props.caption} />
    </div>
  );
}

/**
 * The same builds as a list of cards, shown instead of the table on a narrow screen (the
 * stylesheet shows one or the other): status, repository and workflow, branch, commit,
 * duration and when, each on a line of its own.
 */
function BuildCards(props: { builds: Build[]; caption: string }) {
  return (
    <ul class="build-cards" aria-label={props.caption}>
      {props.builds.map((build) => (
        <li>
          <p class="card-head">
            <a href={`/builds/${build.id}`} aria-label={`Build ${build.id}: ${build.status}`}>
              <StatusBadge status={build.status} />
            </a>{" "}
            <span class="wrap">
              {build.repository} · <a href={workflowHref(build.repository, build.workflow)}>{build.workflow}</a>
            </span>
          </p>
          <p class="wrap">
            <span class="muted">Branch</span> {build.branch ?? "–"}
          </p>
          <p class="message">
            <a href={`/builds/${build.id}`}>
              <code>{shortSha(build.commit_sha)}</code>
            </a>{" "}
            {firstLine(build.commit_message)}
          </p>
          <p class="card-foot muted">
            <span>{formatDuration(build.duration_seconds)}</span>
            <Time value={build.started_at ?? build.created_at} />
          </p>
        </li>
      ))}
    </ul>
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
