/// <reference lib="dom" />
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { sign } from "@octokit/webhooks-methods";
import { chromium, type Browser, type Page } from "playwright-core";
import { formatDuration } from "../../src/domain/format.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { projectPath } from "../../src/project-path.js";
import { start, type RunningRunboard } from "../../src/start.js";
import { silentLog, testConfig, TestOctokit, WEBHOOK_SECRET } from "../helpers/github-app.js";
import { jobPayload, realisticRuns, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

/** Found or installed by the global setup (test/helpers/ensure-chromium.ts). */
const CHROMIUM = inject("chromium");
const XSS_BRANCH = "<img src=x onerror=alert(1)>";

describe("dashboard in a real browser", () => {
  let db: TestDatabase;
  let app: RunningRunboard;
  let browser: Browser;
  const now = new Date();
  const dialogs: string[] = [];

  async function post(event: string, payload: unknown) {
    const body = JSON.stringify(payload);
    const response = await fetch(`${app.url}/api/github/webhooks`, {
      method: "POST",
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
    for (const [i, name] of jobs.entries()) await post("workflow_job", jobPayload(run, name, i));
    await post("workflow_run", runPayload(run));
  }

  async function newPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
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
    browser = await chromium.launch({
      executablePath: CHROMIUM.path,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  it("renders the overview's figures from the recorded builds, and saves a screenshot", async () => {
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
    expect(await page.locator("svg.chart path.rate").count()).toBe(1);
    expect(await page.locator('section[aria-labelledby="recent"] tbody tr').count()).toBe(20);
    expect(await page.locator(".broken li").count()).toBeGreaterThan(0);
    // htmx loaded from our own server under the CSP, and nothing was refused.
    expect(await page.evaluate(() => typeof (window as unknown as { htmx?: unknown }).htmx)).toBe("object");
    expect(errors, errors.join("\n")).toEqual([]);
    await mkdir(projectPath("docs"), { recursive: true });
    // The README's picture is refreshed on request (UPDATE_SCREENSHOT=1), so a test run leaves
    // the work tree as it found it; otherwise the shot still proves the page renders.
    const shot = await page.screenshot({
      path: process.env.UPDATE_SCREENSHOT === "1" ? projectPath("docs", "overview.png") : undefined,
      fullPage: true,
    });
    expect(shot.length).toBeGreaterThan(10_000);
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

  it("shows a webhook delivered while the page is open without a reload", async () => {
    const page = await newPage();
    // The server greets each live connection once it is subscribed: wait for that before delivering.
    await page.addInitScript(() => {
      document.addEventListener("hello", () => ((window as unknown as { greeted: boolean }).greeted = true), true);
    });
    await page.goto(`${app.url}/`);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    await page.waitForFunction(() => (window as unknown as { greeted?: boolean }).greeted === true);
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
    const hostile = { id: 990_003, repository: "acme/web", workflow: "CI", branch: "main", conclusion: "success" as const, createdAt: new Date(now.getTime() - 3_600_000), seconds: 80, actor: "mona", message: "Labels" };
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
    const page = await newPage({ width: 375, height: 740 });
    const build = (await (await fetch(`${app.url}/api/builds?limit=1&status=failed`)).json()) as { builds: Array<{ id: number }> };
    for (const path of ["/", "/builds", `/builds/${build.builds[0]!.id}`, "/alerts"]) {
      await page.goto(`${app.url}${path}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    await page.close();
  });
});
