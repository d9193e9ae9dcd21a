import { Hono } from "hono";
import { sql } from "slonik";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLinkCode, findSlackLink, findSlackUserForLogin, LINK_CODE_TTL_MS } from "../../src/db/slack-links.js";
import { createSlackLinkRoute } from "../../src/slack/link-route.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";

const TEAM = "T0TEAM";

describe("/slack/link/:code", () => {
  let db: TestDatabase;
  let clock = new Date("2026-07-01T10:00:00Z");
  let viewer: { githubUserId: number; login: string } | null = { githubUserId: 583231, login: "octocat" };
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = createSlackLinkRoute({ pool: db.pool, now: () => clock, getViewer: async () => viewer });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("sends a visitor who is not logged in to the login, coming back to the link", async () => {
    viewer = null;
    try {
      const code = await createLinkCode(db.pool, { teamId: TEAM, userId: "U0NOLOGIN" }, clock);
      const response = await app.request(`/slack/link/${code}`);
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe(`/login?return_to=${encodeURIComponent(`/slack/link/${code}`)}`);
      expect((await app.request(`/slack/link/${code}`, { method: "POST" })).status).toBe(302);
      expect(await findSlackLink(db.pool, { teamId: TEAM, userId: "U0NOLOGIN" })).toBeNull();
    } finally {
      viewer = { githubUserId: 583231, login: "octocat" };
    }
  });

  it("asks before linking, links on confirmation, and the code works once", async () => {
    const code = await createLinkCode(db.pool, { teamId: TEAM, userId: "U0MONA" }, clock);
    const page = await app.request(`/slack/link/${code}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("U0MONA");
    expect(html).toContain(`action="/slack/link/${code}"`);
    // Opening the page links nothing.
    expect(await findSlackLink(db.pool, { teamId: TEAM, userId: "U0MONA" })).toBeNull();

    const confirmed = await app.request(`/slack/link/${code}`, { method: "POST" });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain("now linked to GitHub login <strong>octocat</strong>");
    expect(await findSlackLink(db.pool, { teamId: TEAM, userId: "U0MONA" })).toMatchObject({ github_user_id: 583231, github_login: "octocat" });
    expect(await findSlackUserForLogin(db.pool, "OctoCat")).toBe("U0MONA");

    expect((await app.request(`/slack/link/${code}`, { method: "POST" })).status).toBe(404);
  });

  it("refuses an expired code and stores only codes' hashes", async () => {
    const code = await createLinkCode(db.pool, { teamId: TEAM, userId: "U0LATE" }, clock);
    const stored = await db.pool.anyFirst(sql.type(z.object({ code_hash: z.string() }))`SELECT code_hash FROM slack_link_codes`);
    expect(stored).not.toContain(code);
    clock = new Date(clock.getTime() + LINK_CODE_TTL_MS + 1_000);
    expect((await app.request(`/slack/link/${code}`)).status).toBe(404);
    expect((await app.request(`/slack/link/${code}`, { method: "POST" })).status).toBe(404);
    expect(await findSlackLink(db.pool, { teamId: TEAM, userId: "U0LATE" })).toBeNull();
  });

  it("escapes the viewer's login in the page", async () => {
    viewer = { githubUserId: 9, login: "<script>x</script>" };
    try {
      const code = await createLinkCode(db.pool, { teamId: TEAM, userId: "U0ESC" }, clock);
      const html = await (await app.request(`/slack/link/${code}`)).text();
      expect(html).not.toContain("<script>x</script>");
      expect(html).toContain("&lt;script&gt;x&lt;/script&gt;");
    } finally {
      viewer = { githubUserId: 583231, login: "octocat" };
    }
  });
});
