/// <reference lib="dom" />
import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { chromium, type Browser } from "playwright-core";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { start, type RunningRunboard } from "../../src/start.js";
import { startActionsStandIn, type ActionsStandIn } from "../helpers/actions-stand-in.js";
import { silentLog, testConfig, WEBHOOK_SECRET } from "../helpers/github-app.js";
import { jobLog, red } from "../helpers/job-log.js";
import { jobPayload, runPayload, type SeedRun } from "../helpers/seed-builds.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

/** Found or installed by the global setup (test/helpers/ensure-chromium.ts). */
const CHROMIUM = inject("chromium");
const TOKEN = "github_pat_11AAAAAAA0123456789_LeakedByAnEchoInTheWorkflowScript";

async function waitUntil<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a failed job's error on the build page, in a real browser", () => {
  let db: TestDatabase;
  let standIn: ActionsStandIn;
  let app: RunningRunboard;
  let browser: Browser;
  let buildId: number;
  let sha: string;
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

  beforeAll(async () => {
    if ("error" in CHROMIUM) throw new Error(CHROMIUM.error);
    db = await createTestDatabase();
    standIn = await startActionsStandIn();
    // The whole app as main starts it: its failure reader reads from the stand-in.
    app = await start({
      config: testConfig({ DATABASE_URL: db.connectionUri, GHE_HOST: standIn.host, GHE_PROTOCOL: "http" }),
      log: silentLog,
    });
    const run: SeedRun = {
      id: 880_001,
      repository: "acme/web",
      workflow: "CI",
      branch: "main",
      conclusion: "failure",
      createdAt: new Date(Date.now() - 600_000),
      seconds: 120,
      actor: "mona",
      message: "Break it",
    };
    const job = jobPayload(run, "unit", 0);
    job.installation = { id: standIn.installationId, node_id: "x" };
    const runDelivery = runPayload(run);
    runDelivery.installation = { id: standIn.installationId, node_id: "x" };
    sha = runDelivery.workflow_run.head_sha;
    standIn.logs.set(job.workflow_job.id, {
      body: jobLog(job.workflow_job.steps, [red("FAIL src/page.test.ts"), `echo ${TOKEN}`, "<img src=x onerror=alert(1)>", "TypeError: cart.total is not a function"]),
    });
    standIn.annotations.set(1291536064, [
      { path: "src/page.test.ts", start_line: 9, end_line: 9, annotation_level: "failure", message: "TypeError: cart.total is not a function", title: "" },
    ]);
    await post("workflow_job", job);
    await post("workflow_run", runDelivery);
    await waitUntil("the failure read", async () =>
      (await db.pool.maybeOneFirst(sql.type(z.object({ status: z.string() }))`SELECT status FROM failure_excerpts`)) === "done",
    );
    buildId = await db.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM builds WHERE external_id = 880001`);
    browser = await chromium.launch({
      executablePath: CHROMIUM.path,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await standIn?.stop();
    await db?.drop();
  });

  it("opens the failed step with its error excerpt and annotation linked to the commit, escaped, without the token", async () => {
    const page = await browser.newPage();
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${app.url}/builds/${buildId}`);
    const excerpt = page.getByLabel("Error excerpt");
    await expect.poll(() => excerpt.isVisible()).toBe(true);
    const text = await excerpt.innerText();
    expect(text).toContain("TypeError: cart.total is not a function");
    expect(text).toContain("<img src=x onerror=alert(1)>");
    expect(text).toContain("Error: Process completed with exit code 1.");
    expect(text).toContain("echo ***");
    const link = page.getByRole("link", { name: "src/page.test.ts:9" });
    expect(await link.getAttribute("href")).toBe(`https://github.com/acme/web/blob/${sha}/src/page.test.ts#L9`);
    expect(await page.content()).not.toContain(TOKEN);
    expect(await page.locator("img").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });
});
