/// <reference lib="dom" />
import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";
import { chromium, type Browser, type Page } from "playwright-core";
import { formatDuration } from "../../src/domain/format.js";
import { attentionPeriods } from "../../src/domain/workflow-attention.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { projectPath } from "../../src/project-path.js";
import { start, type RunningRunboard } from "../../src/start.js";
import { silentLog, testConfig, TestOctokit, WEBHOOK_SECRET } from "../helpers/github-app.js";
import { jobPayload, realisticRuns, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

/** Found or installed by the global setup (test/helpers/ensure-chromium.ts). */
const CHROMIUM = inject("chromium");
const XSS_BRANCH = "<img src=x onerror=alert(1)>";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };
const WORKFLOW_PAGE = "/workflows?repository=acme%2Fapi&workflow=CI";
const axeSource = readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/**
 * The page's serious and critical WCAG 2.1 A/AA violations, as axe-core finds them. axe is
 * evaluated through the DevTools protocol, so the page's Content Security Policy stays as it is.
 */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(await axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`);
}

describe("dashboard in a real browser", () => {
  let db: TestDatabase;
  let app: RunningRunboard;
  let browser: Browser;
  const now = new Date();
  const dialogs: string[] = [];
  const delivered: SeedRun[] = [];

  async function post(event: string, payload: unknown) {
    const body = JSON.stringify(payload);
    const response = await fetch(`${app.url}/api/github/webhooks`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
      headers: {
        "content-type": "application/json",
        "x-github-delivery": randomUUID(),
        "x-github-event": event,
        "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
      },
      body,
    });
    expect(response.status).toBe(200);
  }

  async function deliverRun(run: SeedRun, jobs = ["build", "test"]) {
    delivered.push(run);
    for (const [i, name] of jobs.entries()) await post("workflow_job", jobPayload(run, name, i));
    await post("workflow_run", runPayload(run));
  }

  async function newPage(viewport = DESKTOP): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    return page;
  }

  beforeAll(async () => {
    if ("error" in CHROMIUM) throw new Error(CHROMIUM.error);
    db = await createTestDatabase();
    app = await start({ config: testConfig({ DATABASE_URL: db.connectionUri }), log: silentLog, Octokit: TestOctokit });
    for (const run of realisticRuns(now)) await deliverRun(run);
    await deliverRun({
      id: 990_001,
      repository: "acme/web",
      workflow: "CI",
      branch: XSS_BRANCH,
      conclusion: "failure",
      createdAt: new Date(now.getTime() - 3 * 86_400_000 - 3_600_000),
      seconds: 95,
      actor: "<b>mallory</b>",
      message: '<script>alert("commit")</script> and "quotes" & ampersands',
    });
    // The latest run on main of acme/infra's CI fails: red now.
    await deliverRun({
      id: 990_003,
      repository: "acme/infra",
      workflow: "CI",
      branch: "main",
      conclusion: "failure",
      createdAt: new Date(now.getTime() - 3_600_000),
      seconds: 240,
      actor: "hubot",
      message: "Break the build on main",
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM.path,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  async function failedBuildId(): Promise<number> {
    const answer = (await (await fetch(`${app.url}/api/builds?limit=1&status=failed&repository=acme%2Fapi`)).json()) as { builds: Array<{ id: number }> };
    return answer.builds[0]!.id;
  }

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  it("renders the overview's figures from the recorded builds", async () => {
    const summary = (await (await fetch(`${app.url}/api/metrics/summary?days=7`)).json()) as {
      total_builds: number;
      success_rate: number;
    };
    expect(summary.total_builds).toBeGreaterThan(20);
    const page = await newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${app.url}/`);
    expect(await page.textContent('[data-metric="builds"]')).toBe(String(summary.total_builds));
    expect(await page.textContent('[data-metric="success-rate"]')).toBe(`${(summary.success_rate * 100).toFixed(1)}%`);
    expect(await page.locator("figure.daily-charts svg.chart").count()).toBe(2);
    expect(await page.locator('section[aria-labelledby="recent"] tbody tr').count()).toBe(20);
    expect(await page.locator(".broken li").count()).toBeGreaterThan(0);
    // htmx loaded from our own server under the CSP, and nothing was refused.
    expect(await page.evaluate(() => typeof (window as unknown as { htmx?: unknown }).htmx)).toBe("object");
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("swaps only the table when a filter changes, and puts the filter in the URL", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/builds`);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    const before = await page.locator("#results tbody tr").count();
    expect(before).toBe(50);
    await page.selectOption('select[name="status"]', "failed");
    await page.waitForURL(/\/builds\?status=failed$/);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll("#results tbody tr .badge")).every((b) => b.textContent === "failed"),
    );
    const statuses = await page.locator("#results tbody tr .badge").allTextContents();
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(["failed"]));
    // No reload happened: the page's own state survived the swap.
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    // The URL is shareable: loading it directly shows the same filtered view.
    const shared = await newPage();
    await shared.goto(page.url());
    expect(await shared.locator("#results tbody tr .badge").allTextContents()).toEqual(statuses);
    await shared.close();
    await page.close();
  });

  // Retried: in about one full-suite run in two on a loaded 2-core machine this test stalled for
  // its whole 30 s with no error, and it has not been reproduced alone. Each wait below has a
  // deadline of its own, so a stall names its step; a broken live update fails every try.
  it("shows a webhook delivered while the page is open without a reload", { retry: 2 }, async () => {
    const page = await newPage();
    // The server greets each live connection once it is subscribed: wait for that before delivering.
    await page.addInitScript(() => {
      document.addEventListener("hello", () => ((window as unknown as { greeted: boolean }).greeted = true), true);
    });
    await page.goto(`${app.url}/`, { timeout: 8_000 });
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    await page.waitForFunction(() => (window as unknown as { greeted?: boolean }).greeted === true, undefined, { timeout: 8_000 });
    await deliverRun({
      id: 990_002,
      repository: "acme/api",
      workflow: "CI",
      branch: "main",
      conclusion: "success",
      createdAt: new Date(),
      seconds: 61,
      actor: "mona",
      message: "Live update arrives while you watch",
    });
    await page.waitForSelector("text=Live update arrives while you watch", { timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    await page.close();
  });

  it("renders a hostile branch name, login and commit message as text", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/builds?repository=acme%2Fweb&status=failed`);
    const row = page.locator("#results tbody tr", { hasText: XSS_BRANCH });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator("img").count()).toBe(0);
    expect(await row.textContent()).toContain('<script>alert("commit")</script>');
    expect(await row.textContent()).toContain("<b>mallory</b>");
    await row.locator("a").first().click();
    await page.waitForURL(/\/builds\/\d+$/);
    expect(await page.locator("main img, main script").count()).toBe(0);
    expect(await page.textContent("dl.facts")).toContain(XSS_BRANCH);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it("shows the Runners page's queue figures as the API gives them, at desktop and phone width", async () => {
    const hostile = { id: 990_013, repository: "acme/web", workflow: "CI", branch: "main", conclusion: "success" as const, createdAt: new Date(now.getTime() - 3_600_000), seconds: 80, actor: "mona", message: "Labels" };
    const job = jobPayload(hostile, "odd", 0);
    job.workflow_job.labels = ["self-hosted", '<img src=x onerror=alert("label")>'];
    await post("workflow_job", job);
    await post("workflow_run", runPayload(hostile));
    const queue = (await (await fetch(`${app.url}/api/metrics/queue?days=1`)).json()) as { total: { jobs: number; p50_seconds: number; p95_seconds: number } };
    expect(queue.total.jobs).toBeGreaterThan(2);
    for (const viewport of [{ width: 1280, height: 900 }, { width: 375, height: 740 }]) {
      const page = await newPage(viewport);
      const errors: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${app.url}/runners?days=1`);
      expect(await page.textContent('[data-metric="queue-p50"]')).toBe(formatDuration(queue.total.p50_seconds));
      expect(await page.textContent('[data-metric="queue-p95"]')).toBe(formatDuration(queue.total.p95_seconds));
      expect(await page.locator('section[aria-labelledby="by-runner"] td', { hasText: '<img src=x onerror=alert("label")>' }).count()).toBe(1);
      expect(await page.locator("svg.chart rect.bar-queue").count()).toBe(24);
      expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe("Runners");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${viewport.width} px`).toBeLessThanOrEqual(0);
      expect(errors, errors.join("\n")).toEqual([]);
      await page.close();
    }
    expect(dialogs).toEqual([]);
  });

  it("has no horizontal scroll on a phone", async () => {
    const page = await newPage(PHONE);
    for (const path of ["/", "/builds", `/builds/${await failedBuildId()}`, WORKFLOW_PAGE, "/alerts", "/docs"]) {
      await page.goto(`${app.url}${path}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    await page.close();
  });

  it("has no serious or critical accessibility violation on any page, at desktop and at phone width", async () => {
    const pages = ["/", "/builds", `/builds?day=${now.toISOString().slice(0, 10)}`, `/builds/${await failedBuildId()}`, WORKFLOW_PAGE, "/alerts", "/docs", "/account", "/setup"];
    for (const viewport of [DESKTOP, PHONE]) {
      const page = await newPage(viewport);
      for (const path of pages) {
        const response = await page.goto(`${app.url}${path}`);
        // /setup answers 409 once an app is configured, as here: that page is checked too.
        expect(response?.status(), path).toBe(path === "/setup" ? 409 : 200);
        expect(await seriousViolations(page), `${path} at ${viewport.width} px`).toEqual([]);
      }
      await page.close();
    }
  }, 180_000);

  it("saves screenshots of the overview, a build and a workflow at desktop and phone width", async () => {
    // The README's pictures are refreshed on request (UPDATE_SCREENSHOT=1), so a test run leaves
    // the work tree as it found it; otherwise the shots still prove the pages render.
    const save = process.env.UPDATE_SCREENSHOT === "1";
    if (save) await mkdir(projectPath("docs"), { recursive: true });
    const shots: Array<[string, string]> = [
      ["overview", "/"],
      ["build", `/builds/${await failedBuildId()}`],
      ["workflow", WORKFLOW_PAGE],
    ];
    for (const [name, path] of shots) {
      for (const [width, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
        const page = await newPage(viewport);
        await page.goto(`${app.url}${path}`);
        const shot = await page.screenshot({ path: save ? projectPath("docs", `${name}-${width}.png`) : undefined, fullPage: true });
        expect(shot.length, `${name} at ${width} width`).toBeGreaterThan(10_000);
        await page.close();
      }
    }
  });

  it("charts success rate and duration in panels of their own, with a day's values on hover and focus, failed days marked and each day linking to its builds", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/`);
    const [rate, duration] = [page.locator("figure.daily-charts svg.chart").nth(0), page.locator("figure.daily-charts svg.chart").nth(1)];
    // Axis ticks with units: percentages on one, durations on the other.
    expect(await rate.locator("text.tick").allTextContents()).toEqual(expect.arrayContaining(["0%", "50%", "100%"]));
    const durationTicks = await duration.locator("text.tick").allTextContents();
    expect(durationTicks.filter((t) => /^\d+(s|m|h)( \d+(s|m))?$/.test(t)).length).toBeGreaterThanOrEqual(2);
    // The table beside the chart: one row per day, the same days the chart links to.
    const rows = page.locator("figure.daily-charts tbody tr");
    expect(await rows.count()).toBe(14);
    const failedDays: string[] = [];
    for (let i = 0; i < 14; i++) {
      if (Number(await rows.nth(i).locator("td").nth(2).textContent()) > 0) failedDays.push((await rows.nth(i).locator("th").textContent())!);
    }
    expect(failedDays.length).toBeGreaterThan(0);
    expect(await rate.locator("circle.failed-mark").count()).toBe(failedDays.length);
    expect(await duration.locator("circle.failed-mark").count()).toBe(failedDays.length);
    // Hover a day: its values replace the latest day's in the panel's top line.
    const day = failedDays[0]!;
    const link = rate.locator(`a.day[href="/builds?day=${day}"]`);
    const readout = link.locator("xpath=following-sibling::*[1]");
    expect(await readout.isVisible()).toBe(false);
    await link.hover();
    await expect.poll(() => readout.isVisible()).toBe(true);
    expect(await readout.textContent()).toMatch(/^\w{3} \d{1,2}: \d+\.\d% of \d+, \d+ failed$/);
    expect(await rate.locator("text.readout-default").isVisible()).toBe(false);
    // Keyboard focus shows it too, and the link names the same values.
    await page.mouse.move(0, 0);
    const durationLink = duration.locator(`a.day[href="/builds?day=${day}"]`);
    await durationLink.focus();
    const durationReadout = durationLink.locator("xpath=following-sibling::*[1]");
    await expect.poll(() => durationReadout.isVisible()).toBe(true);
    expect(await durationReadout.textContent()).toMatch(/p50 .+, p95 .+, \d+ failed$/);
    expect(await durationLink.locator("title").textContent()).toContain(`${await durationReadout.textContent()}.`);
    // Opening the day shows that day's builds only.
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`/builds\\?day=${day}$`));
    const times = await page.locator("#results tbody time").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("datetime")));
    expect(times.length).toBeGreaterThan(0);
    for (const time of times) expect(time!.slice(0, 10)).toBe(day);
    expect(await page.inputValue('input[name="day"]')).toBe(day);
    await page.close();
  });

  it("charts a workflow's success rate and p50/p95 with links to its builds of the day", async () => {
    const page = await newPage();
    await page.goto(`${app.url}${WORKFLOW_PAGE}`);
    expect(await page.locator("figure.daily-charts svg.chart").count()).toBe(2);
    expect(await page.locator("figure.daily-charts svg.chart").nth(1).locator("path.p50, path.p95").count()).toBe(2);
    const href = await page.locator("figure.daily-charts svg.chart a.day").last().getAttribute("href");
    expect(href).toBe(`/builds?repository=acme%2Fapi&workflow=CI&day=${now.toISOString().slice(0, 10)}`);
    await page.close();
  });

  it("lists the workflows that need attention, red now first, each linking to its page", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/`);
    const items = page.locator("ol.attention > li");
    expect(await items.count()).toBeGreaterThan(1);
    const reasons = await items.evaluateAll((nodes) => nodes.map((n) => n.className.replace("reason-", "")));
    const order = ["red", "falling", "slower", "steady"];
    expect([...reasons].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(reasons);
    // Red now: the workflows with a run this week whose latest finished run on main failed.
    const red = new Set<string>();
    const weekAgo = attentionPeriods(7, new Date()).currentFrom.getTime();
    for (const key of new Set(delivered.map((r) => `${r.repository} · ${r.workflow}`))) {
      const runs = delivered.filter((r) => `${r.repository} · ${r.workflow}` === key);
      const latestOnMain = runs
        .filter((r) => r.branch === "main" && (r.conclusion === "success" || r.conclusion === "failure"))
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
      if (latestOnMain?.conclusion === "failure" && runs.some((r) => r.createdAt.getTime() > weekAgo)) red.add(key);
    }
    const names = await items.locator(".attention-head a").allTextContents();
    expect(red.size).toBeGreaterThan(0);
    expect(new Set(names.slice(0, red.size))).toEqual(red);
    expect(reasons.filter((r) => r === "red")).toHaveLength(red.size);
    const first = items.first();
    expect(await first.locator(".attention-figures dt").allTextContents()).toEqual(["Runs", "Success", "p95", "Flaky"]);
    expect(await first.locator("svg.spark path").getAttribute("d")).toMatch(/^M/);
    await first.locator(".attention-head a").click();
    await page.waitForURL(/\/workflows\?repository=/);
    expect(await page.textContent("h1")).toContain(names[0]!.split(" · ")[1]!);
    await page.close();
  });

  it("shows builds as cards on a phone, and charts across the full width with legible labels", async () => {
    const page = await newPage(PHONE);
    await page.goto(`${app.url}/builds`);
    expect(await page.locator("#results table").isVisible()).toBe(false);
    const cards = page.locator("#results .build-cards > li");
    expect(await cards.count()).toBe(50);
    const card = cards.first();
    expect(await card.isVisible()).toBe(true);
    const text = (await card.textContent())!;
    expect(text).toMatch(/success|failed|cancelled/);
    expect(text).toMatch(/acme\/(api|web|infra) · (CI|Deploy|Nightly)/);
    expect(text).toContain("Branch");
    expect(await card.locator("code").textContent()).toMatch(/^[0-9a-f]{7}$/);
    expect(text).toMatch(/\d+m \d{2}s|\d+s/);
    expect(await card.locator("time").count()).toBe(1);
    await page.goto(`${app.url}/`);
    const main = await page.locator("main").evaluate((m) => m.clientWidth - parseFloat(getComputedStyle(m).paddingLeft) - parseFloat(getComputedStyle(m).paddingRight));
    // Measured in one step in the page: a live refresh may swap the charts between two calls.
    const charts = await page.locator("figure.daily-charts svg.chart").evaluateAll((svgs) =>
      svgs.map((svg) => ({ width: svg.getBoundingClientRect().width, label: svg.querySelector("text.tick")?.getBoundingClientRect().height ?? 0 })),
    );
    expect(charts.length).toBeGreaterThan(0);
    for (const chart of charts) {
      expect(chart.width).toBeGreaterThanOrEqual(main - 1);
      // Tick labels stay at least 11 px tall on screen.
      expect(chart.label).toBeGreaterThanOrEqual(11);
    }
    await page.close();
  });
});
