import { Hono } from "hono";
import { sql, type DatabasePool } from "slonik";

const DATABASE_TIMEOUT_MS = 3000;

/** GET /health: 200 when the database answers, 503 with the reason when it does not. */
export function createHealthRoute(deps: { pool: DatabasePool }): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        deps.pool.query(sql.unsafe`SELECT 1`),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_TIMEOUT_MS} ms`)), DATABASE_TIMEOUT_MS);
        }),
      ]);
      return c.json({ status: "ok", database: "ok" });
    } catch (error) {
      return c.json({ status: "error", database: "unavailable", reason: (error as Error).message }, 503);
    } finally {
      clearTimeout(timer);
    }
  });
  return app;
}
