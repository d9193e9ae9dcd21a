/**
 * Where one write's time goes: a run written through the write path as webhooks bring it
 * (requested, in progress, completed; one delivery each, a batch of one, as at half load), with
 * parts of the write switched off in turn: the rollup triggers (migrations/0025), the
 * unfinished-builds triggers (0030), the payload's compression (stored uncompressed instead).
 * Each variant runs in blocks of 100 runs, in rotating order, 5 rounds; the median time per
 * write is beside the whole write's in the same run. The parts switched off are for measuring
 * only: without them the rollups and lists would be wrong.
 *
 *   npx tsx bench/write-parts.bench.ts
 */
import pg from "pg";
import { sql } from "slonik";
import { z } from "zod";
import { writeContext } from "../src/alerts/queue-alerts.js";
import { createPool } from "../src/db/create-pool.js";
import { writeBatch } from "../src/db/write-batch.js";
import { normalizeWorkflowRun, type BuildRecord } from "../src/domain/normalize.js";
import { runPayload } from "../test/helpers/seed-builds.js";
import { ms, table, withBenchDatabase } from "./support.js";

const RUNS_PER_BLOCK = 100;
const ROUNDS = 5;

/** The statements that switch one part off (run on a table whose triggers are all on and whose payload is compressed). */
const VARIANTS: Record<string, string[]> = {
  "The whole write": [],
  "Without the rollup triggers": ["ALTER TABLE builds DISABLE TRIGGER builds_rollup_insert", "ALTER TABLE builds DISABLE TRIGGER builds_rollup_update"],
  "Without the unfinished-builds triggers": ["ALTER TABLE builds DISABLE TRIGGER builds_unfinished_insert", "ALTER TABLE builds DISABLE TRIGGER builds_unfinished_update"],
  "Payload stored uncompressed": ["ALTER TABLE builds ALTER COLUMN payload SET STORAGE EXTERNAL"],
};

const context = writeContext({ email: null, slack: null, now: () => new Date(), sendDelayMs: 0 });

await withBenchDatabase("write_parts", async (uri) => {
  const pool = await createPool(uri);
  // Table changes take a connection of their own (no session state on the pool's).
  const admin = new pg.Client({ connectionString: uri });
  await admin.connect();
  let nextRun = 1;

  const block = async (variant: string) => {
    await admin.query("ALTER TABLE builds ENABLE TRIGGER USER");
    await admin.query("ALTER TABLE builds ALTER COLUMN payload SET STORAGE EXTENDED");
    for (const statement of VARIANTS[variant]!) await admin.query(statement);
    // Made before the clock starts: what is timed is the write, from the call in Node to its answer.
    const writes = Array.from({ length: RUNS_PER_BLOCK }, () => nextRun++).flatMap((id) =>
      (["queued", "in_progress", "completed"] as const).map((status) => {
        const payload = runPayload({
          id, repository: `acme/repo-${id % 20}`, workflow: "CI", branch: "main", conclusion: "success", status,
          createdAt: new Date(Date.now() - 3_600_000), seconds: 60, actor: "mona", message: `Change ${id}`,
        });
        const record = normalizeWorkflowRun(payload.workflow_run, { fallbackRepository: payload.repository }) as BuildRecord;
        return { record, delivery: { id: `delivery-${id}-${status}`, event: "workflow_run", action: payload.action } };
      }),
    );
    const started = performance.now();
    for (const { record, delivery } of writes) {
      await writeBatch(pool, { deliveries: [delivery], runs: [{ record, history: false }], jobs: [], now: new Date(), context });
    }
    return (performance.now() - started) / writes.length;
  };

  const names = Object.keys(VARIANTS);
  for (const name of names) await block(name); // warm-up
  const times = new Map(names.map((name) => [name, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.slice(round % names.length).concat(names.slice(0, round % names.length));
    for (const name of order) times.get(name)!.push(await block(name));
  }
  await admin.query("ALTER TABLE builds ENABLE TRIGGER USER");
  await admin.query("ALTER TABLE builds ALTER COLUMN payload SET STORAGE EXTENDED");
  const sizes = await pool.one(sql.type(z.object({ stored: z.number(), text: z.number() }))`
    SELECT avg(pg_column_size(payload))::float8 AS stored, avg(octet_length(payload::text))::float8 AS text FROM builds`);
  await admin.end();
  await pool.end();

  const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const whole = median(times.get(names[0]!)!);
  const rows = names.map((name) => {
    const m = median(times.get(name)!);
    return [name, ms(m), name === names[0] ? "" : `${ms(whole - m)} (${(((whole - m) / whole) * 100).toFixed(0)}%)`, times.get(name)!.map((t) => t.toFixed(2)).join(", ")];
  });
  console.log(`## Where one write's time goes

A run written as its webhooks bring it (requested, in progress, completed: one delivery each, a batch of one, as at
half load), ${RUNS_PER_BLOCK} runs a block, ${ROUNDS} rounds in rotating order; median time per write, from the call in Node
to its answer. Payloads: ${Math.round(sizes.text).toLocaleString("en")} bytes of JSON text on average, ${Math.round(sizes.stored).toLocaleString("en")} stored.

${table(["Write", "Median per write", "That part's share", "Each round (ms)"], rows)}
`);
});
