/**
 * The ingest baseline: a bare node:http server that verifies the webhook's HMAC and does one
 * `INSERT ... ON CONFLICT` with pg per event. Nothing else: the raw limit of a webhook receiver
 * on this machine and this PostgreSQL. Started by bench/ingest.bench.ts as its own process.
 *   DATABASE_URL=... WEBHOOK_SECRET=... PORT=... node --import tsx bench/baseline-server.ts
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import pg from "pg";

const secret = process.env.WEBHOOK_SECRET!;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS baseline_events (
  delivery_id text PRIMARY KEY, event text NOT NULL, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
    const given = Buffer.from(String(req.headers["x-hub-signature-256"] ?? ""));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.writeHead(401).end();
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    pool
      .query(
        "INSERT INTO baseline_events (delivery_id, event, payload) VALUES ($1, $2, $3) ON CONFLICT (delivery_id) DO NOTHING",
        [req.headers["x-github-delivery"], req.headers["x-github-event"], payload],
      )
      .then(
        () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
        () => res.writeHead(500).end(),
      );
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))));
