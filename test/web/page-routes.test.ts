import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, deliver } from "../helpers/github-app.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const NOW = new Date("2026-06-10T12:00:00Z");
const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * 3_600_000);

const runs: SeedRun[] = [
  { id: 1, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "success", createdAt: at(50), seconds: 100, actor: "mona", message: "=HYPERLINK(\"http://evil\")" },
  { id: 2, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "failure", createdAt: at(40), seconds: 200, actor: "mona", message: 'Say "hi", then\nmore' },
  { id: 3, repository: "acme/web", workflow: "CI", branch: "main", conclusion: "success", createdAt: at(30), seconds: 300, actor: "hubot", message: "<script>x</script>" },
];

describe("pages", () => {
  let db: TestDatabase;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestServer(db.pool, { now: () => NOW });
    for (const run of runs) {
      await deliver(app, { event: "workflow_job", payload: jobPayload(run, "test", 0) });
      await deliver(app, { event: "workflow_run", payload: runPayload(run) });
    }
    // Run 4 failed on attempt 1 and passed on attempt 2: flaky.
    const flaky: SeedRun = { id: 4, repository: "acme/api", workflow: "CI", branch: "main", conclusion: "failure", createdAt: at(20), seconds: 90, actor: "linus", message: "Flaky" };
    await deliver(app, { event: "workflow_job", payload: jobPayload(flaky, "test", 0) });
    await deliver(app, { event: "workflow_run", payload: runPayload(flaky) });
    const retried = { ...flaky, conclusion: "success" as const, attempt: 2 };
    await deliver(app, { event: "workflow_job", payload: { ...jobPayload(retried, "test", 0), workflow_job: { ...jobPayload(retried, "test", 0).workflow_job, id: 99_999 } } });
    await deliver(app, { event: "workflow_run", payload: runPayload(retried) });
  });
  afterAll(() => db.drop());

  it("sends a strict Content Security Policy whose nonce is on every script", async () => {
    const response = await app.request("/");
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const body = await response.text();
    const scripts = [...body.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts).toHaveLength(2);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    // A second request gets a different nonce.
    const again = (await app.request("/")).headers.get("content-security-policy")!;
    expect(again).not.toContain(nonce);
  });

  it("serves htmx from the installed package, with an ETag", async () => {
    const require = createRequire(import.meta.url);
    const response = await app.request("/assets/htmx.js");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(readFileSync(require.resolve("htmx.org/dist/htmx.min.js"), "utf8"));
    const etag = response.headers.get("etag")!;
    expect((await app.request("/assets/htmx.js", { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await app.request("/assets/nothing.js")).status).toBe(404);
  });

  it("answers an htmx filter request with the results fragment and the tidy URL to push", async () => {
    const response = await app.request("/builds?repository=acme%2Fapi&branch=&status=failed&days=", { headers: { "hx-request": "true" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("hx-push-url")).toBe("/builds?repository=acme%2Fapi&status=failed");
    const body = await response.text();
    expect(body.startsWith('<div id="results"')).toBe(true);
    expect(body).not.toContain("<html");
    expect(body).toContain("Builds 1–1 of 1");
    const full = await (await app.request("/builds?status=failed")).text();
    expect(full).toMatch(/^<!DOCTYPE html>/);
    expect(full).toContain('<option value="failed" selected="">failed</option>');
  });

  it("links the older page by cursor, and from there the newest", async () => {
    const results = async (query: string) => (await app.request(`/builds${query}`, { headers: { "hx-request": "true" } })).text();
    const hrefOf = (html: string, rel: string) =>
      [...html.matchAll(/<a href="([^"]+)" rel="([^"]+)"/g)].find((m) => m[2] === rel)?.[1]?.replaceAll("&amp;", "&");
    const first = await results("?repository=acme%2Fapi&limit=2");
    expect(first).toContain("Builds 1–2 of 3");
    const older = hrefOf(first, "next")!;
    expect(older).toMatch(/^\/builds\?repository=acme%2Fapi&before=[A-Za-z0-9_-]+&limit=2$/);
    const second = await results(older.slice("/builds".length));
    expect(second).toContain("1 older build of 3");
    expect(hrefOf(second, "first")).toBe("/builds?repository=acme%2Fapi&limit=2");
    expect(hrefOf(second, "next")).toBeUndefined();
    const ids = (html: string) => [...html.matchAll(/href="\/builds\/(\d+)"/g)].map((m) => m[1]);
    expect(ids(second)).not.toEqual(ids(first));
    expect((await app.request("/builds?before=nonsense")).status).toBe(400);
  });

  it("filters builds to one UTC day, the day a chart links to", async () => {
    const results = async (query: string) => (await app.request(`/builds?${query}`, { headers: { "hx-request": "true" } })).text();
    // Runs 1 and 2 were created on June 8, runs 3 and 4 on June 9 (UTC).
    expect(await results("day=2026-06-08")).toContain("Builds 1–2 of 2");
    expect(await results("day=2026-06-09&repository=acme%2Fweb")).toContain("Builds 1–1 of 1");
    expect(await results("day=2026-06-07")).toContain("No builds match.");
    const csv = await (await app.request("/builds.csv?day=2026-06-08")).text();
    expect(csv).toContain("HYPERLINK"); // run 1
    expect(csv).toContain('"Say ""hi"", then'); // run 2
    expect(csv).not.toContain("2026-06-09");
    const page = await (await app.request("/builds?day=2026-06-08")).text();
    expect(page).toContain('name="day" value="2026-06-08"');
    // The overview's chart and the workflow's link their days here.
    expect(await (await app.request("/")).text()).toContain('href="/builds?day=2026-06-08"');
    expect(await (await app.request("/workflows?repository=acme%2Fapi&workflow=CI")).text()).toContain(
      'href="/builds?repository=acme%2Fapi&amp;workflow=CI&amp;day=2026-06-08"',
    );
  });

  it("refuses bad filters and unknown builds", async () => {
    expect((await app.request("/builds?status=bogus")).status).toBe(400);
    expect((await app.request("/builds?day=2026-02-31")).status).toBe(400);
    expect((await app.request("/builds?day=yesterday")).status).toBe(400);
    const missing = await app.request("/builds/424242", { headers: { accept: "text/html" } });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("Not found.");
  });

  it("exports the filtered view as CSV, defusing formulas", async () => {
    const response = await app.request("/builds.csv?repository=acme%2Fapi");
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const lines = (await response.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,repository,workflow,status,conclusion,branch,commit_sha,commit_message,triggered_by,event,run_attempt,created_at,started_at,finished_at,duration_seconds,url",
    );
    const csv = lines.join("\n");
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(csv).toContain('"Say ""hi"", then\nmore"');
    expect(csv).not.toContain("acme/web");
    expect(lines.filter((l) => l.includes("acme/api"))).toHaveLength(3);
  });

  it("shows a build's attempts, jobs and failed step, and its payload escaped", async () => {
    const list = (await (await app.request("/api/builds?repository=acme/api&status=failed")).json()) as { builds: Array<{ id: number }> };
    const id = list.builds[0]!.id;
    const body = await (await app.request(`/builds/${id}`)).text();
    expect(body).toContain("failed at “Run yarn run format-check”");
    const flaky = (await (await app.request("/api/builds?triggered_by=linus")).json()) as { builds: Array<{ id: number }> };
    const page = await (await app.request(`/builds/${flaky.builds[0]!.id}?attempt=1`)).text();
    expect(page).toContain("Jobs of attempt 1");
    expect(page).toContain('aria-current="page">#1</strong>');
    const web = (await (await app.request("/api/builds?repository=acme/web")).json()) as { builds: Array<{ id: number }> };
    const payload = await (await app.request(`/builds/${web.builds[0]!.id}/payload`)).text();
    expect(payload).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(payload).not.toContain("<script>");
    // Stored without the repository's derived API URLs (domain/payload-urls.ts), shown with them.
    expect(payload).toContain("&quot;issues_url&quot;: &quot;https://api.github.com/repos/");
    expect(payload).not.toContain("runboard_omitted_urls");
  });

  it("shows a workflow's flaky rate and slowest jobs", async () => {
    const body = await (await app.request("/workflows?repository=acme%2Fapi&workflow=CI")).text();
    // Decided runs of acme/api CI: 1 success, 2 failed, 4 success after a failed attempt: 1 flaky of 3.
    expect(body).toContain('data-metric="flaky-rate">33.3%');
    expect(body).toContain("Slowest jobs");
    expect((await app.request("/workflows?repository=acme%2Fapi")).status).toBe(400);
  });

  it("lists what is broken now, with how long it has been red", async () => {
    const fragment = async () => (await app.request("/fragments/overview")).text();
    expect(await fragment()).toContain("Nothing is broken");
    // acme/web's latest CI run on main fails 10 hours ago (it finishes 100 s after it starts).
    const red: SeedRun = { id: 5, repository: "acme/web", workflow: "CI", branch: "main", conclusion: "failure", createdAt: at(10), seconds: 100, actor: "hubot", message: "Break" };
    await deliver(app, { event: "workflow_run", payload: runPayload(red) });
    const broken = await fragment();
    expect(broken).toContain("acme/web · CI · main");
    expect(broken).toContain("red for 9h 58m, 1 failed run");
    expect(broken).toContain('data-metric="failed-now">1<');
    // Green again: gone.
    await deliver(app, { event: "workflow_run", payload: runPayload({ ...red, id: 6, conclusion: "success", createdAt: at(5) }) });
    expect(await fragment()).toContain("Nothing is broken");
  });

  it("describes the JSON API in OpenAPI, generated from the validating schemas", async () => {
    const doc = (await (await app.request("/openapi.json")).json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    const params = doc.paths["/api/builds"].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(["limit", "offset", "before", "status", "repository", "branch", "workflow", "triggered_by"]);
    const status = doc.paths["/api/builds"].get.parameters.find((p: { name: string }) => p.name === "status");
    expect(JSON.stringify(status.schema)).toContain("cancelled");
    expect(Object.keys(doc.paths["/api/metrics/summary"].get.responses["200"].content["application/json"].schema.properties)).toContain("p95_duration_seconds");
    const docs = await (await app.request("/docs")).text();
    expect(docs).toContain("GET /api/builds");
    expect(docs).toContain("triggered_by");
  });
});
