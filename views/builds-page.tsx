import type { Build } from "../src/db/builds.js";
import { STATUSES } from "../src/domain/status.js";
import { BuildsTable } from "./components.js";
import { Layout } from "./layout.js";

export interface BuildsQuery {
  repository?: string | undefined;
  branch?: string | undefined;
  workflow?: string | undefined;
  status?: string | undefined;
  actor?: string | undefined;
  days?: number | undefined;
  /** One UTC day, "YYYY-MM-DD"; it wins over `days`. */
  day?: string | undefined;
  offset: number;
  /** A keyset page: the builds after this cursor (opaque text), instead of `offset`. */
  before?: string | undefined;
  limit: number;
}

export interface BuildsResultsData {
  query: BuildsQuery;
  builds: Build[];
  total: number;
  /** The count stopped here: show "N+". */
  countLimit: number;
  /** The cursor of the next, older page, or null on the last one. */
  next: string | null;
}

/** The query string of a filtered view (empty filters left out), so a view can be shared. */
export function buildsSearch(query: BuildsQuery, overrides: Partial<BuildsQuery> = {}): string {
  const merged = { ...query, ...overrides };
  const params = new URLSearchParams();
  for (const key of ["repository", "branch", "workflow", "status", "actor", "days", "day"] as const) {
    const value = merged[key];
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  if (merged.offset) params.set("offset", String(merged.offset));
  if (merged.before) params.set("before", merged.before);
  if (merged.limit !== 50) params.set("limit", String(merged.limit));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Builds with filters; the filters live in the URL and htmx swaps only the results. */
export function BuildsPage(props: { nonce: string; data: BuildsResultsData; options: { repositories: string[] } }) {
  const q = props.data.query;
  return (
    <Layout title="Builds" nonce={props.nonce} section="builds" live>
      <h1>Builds</h1>
      <form
        class="filters"
        action="/builds"
        method="get"
        hx-get="/builds"
        hx-trigger="change, submit"
        hx-target="#results"
        hx-swap="outerSync"
        hx-push-url="true"
        role="search"
        aria-label="Filter builds"
      >
        <label>
          Repository
          <input name="repository" list="repositories" value={q.repository ?? ""} autocomplete="off" />
        </label>
        <datalist id="repositories">
          {props.options.repositories.map((r) => (
            <option value={r} />
          ))}
        </datalist>
        <label>
          Branch
          <input name="branch" value={q.branch ?? ""} autocomplete="off" />
        </label>
        <label>
          Workflow
          <input name="workflow" value={q.workflow ?? ""} autocomplete="off" />
        </label>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s} selected={q.status === s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Triggered by
          <input name="actor" value={q.actor ?? ""} autocomplete="off" />
        </label>
        <label>
          Window
          <select name="days">
            <option value="">all time</option>
            {[1, 7, 30, 90].map((d) => (
              <option value={String(d)} selected={q.days === d}>
                last {d} day{d === 1 ? "" : "s"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Day (UTC)
          <input type="date" name="day" value={q.day ?? ""} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <BuildsResults data={props.data} />
    </Layout>
  );
}

/** The results: table, pager and CSV link; the page, the filter swap and live refresh all use it. */
export function BuildsResults(props: { data: BuildsResultsData }) {
  const { query, builds, total, countLimit, next } = props.data;
  const search = buildsSearch(query);
  const shown = total >= countLimit ? `${countLimit.toLocaleString("en")}+` : total.toLocaleString("en");
  const from = total === 0 ? 0 : query.offset + 1;
  const to = query.offset + builds.length;
  // A keyset page does not know how many builds come before it.
  const caption = query.before
    ? `${builds.length.toLocaleString("en")} older build${builds.length === 1 ? "" : "s"} of ${shown}, newest first`
    : `Builds ${from}–${to} of ${shown}, newest first`;
  const pageLink = (at: Partial<BuildsQuery>, label: string, rel: string) => {
    const href = `/builds${buildsSearch(query, { offset: 0, before: undefined, ...at })}`;
    return (
      <a href={href} rel={rel} hx-get={href} hx-target="#results" hx-swap="outerSync" hx-push-url="true">
        {label}
      </a>
    );
  };
  return (
    <div
      id="results"
      hx-get={`/builds${search}`}
      hx-trigger="build from:#live throttle:2s, hello from:#live, every 30s"
      hx-swap="outerSync"
      aria-live="polite"
    >
      <BuildsTable builds={builds} caption={caption} />
      <nav class="pager" aria-label="Pages">
        {query.before && pageLink({}, "← Newest", "first")}
        {query.offset > 0 && pageLink({ offset: Math.max(0, query.offset - query.limit) }, "← Newer", "prev")}
        {/* Older pages by cursor: a deep page costs what the first does. */}
        {next && pageLink({ before: next }, "Older →", "next")}
        <a class="button" href={`/builds.csv${buildsSearch(query, { offset: 0, before: undefined })}`} download>
          Export CSV
        </a>
      </nav>
    </div>
  );
}
