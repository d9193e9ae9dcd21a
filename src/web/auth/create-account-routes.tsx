import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { AccountPage } from "../../../views/account-page.js";
import { insertApiToken, listApiTokens, revokeApiToken } from "../../db/api-tokens.js";
import { cspNonce, renderPage } from "../render-page.js";
import { accessOf } from "./access.js";
import { API_TOKEN_PREFIX, hashSecret } from "./auth-secrets.js";
import type { AuthDeps } from "./create-auth.js";
import type { LoginSettings } from "./login-settings.js";

export type AccountRouteDeps = Pick<AuthDeps, "pool" | "now"> & { settings: LoginSettings };

const tokenForm = z.object({ name: z.string().trim().min(1, "give the token a name").max(100) });

/**
 * /account: who is logged in and their API tokens. A new token, scoped to the installations
 * the user can see now, is shown once; only its hash is stored.
 */
export function createAccountRoutes(deps: AccountRouteDeps): Hono {
  const routes = new Hono();

  const accountPage = async (c: Context, created?: { name: string; token: string }) => {
    const access = accessOf(c);
    const tokens = access.kind === "user" ? await listApiTokens(deps.pool, access.viewer.githubUserId) : [];
    return renderPage(
      c,
      <AccountPage nonce={cspNonce(c)} access={access} loginConfigured={deps.settings.loginConfigured()} tokens={tokens} created={created} />,
    );
  };

  routes.get("/account", (c) => accountPage(c));

  routes.post("/account/tokens", async (c) => {
    const access = accessOf(c);
    if (access.kind !== "user") throw new HTTPException(403, { message: "log in to create API tokens" });
    const form = tokenForm.safeParse(await c.req.parseBody());
    if (!form.success) throw new HTTPException(400, { message: form.error.issues[0]!.message });
    const token = API_TOKEN_PREFIX + randomBytes(32).toString("base64url");
    await insertApiToken(deps.pool, {
      tokenHash: hashSecret(token),
      name: form.data.name,
      githubUserId: access.viewer.githubUserId,
      login: access.viewer.login,
      installationIds: [...access.installationIds],
    });
    return accountPage(c, { name: form.data.name, token });
  });

  routes.post("/account/tokens/:id{[0-9]+}/revoke", async (c) => {
    const access = accessOf(c);
    if (access.kind !== "user") throw new HTTPException(403, { message: "log in to revoke API tokens" });
    if (!(await revokeApiToken(deps.pool, access.viewer.githubUserId, Number(c.req.param("id")), deps.now()))) {
      throw new HTTPException(404, { message: "no such token" });
    }
    return c.redirect("/account", 303);
  });

  return routes;
}
