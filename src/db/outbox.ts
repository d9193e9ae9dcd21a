import { randomUUID } from "node:crypto";
import { sql, type DatabasePool, type IdentifierSqlToken, type FragmentSqlToken, type ValueExpression } from "slonik";
import { z } from "zod";

/**
 * One table whose rows are messages to the outside world (alerts, check runs). Every such table
 * has the columns `status` ('pending' while due or being sent), `attempts`, `next_attempt_at`,
 * `last_error`, `updated_at`, `version`, `lease_token` and `in_doubt` (migrations/0011).
 */
export interface OutboxTable<Key extends Record<string, string | number>> {
  table: string;
  /** The primary key's columns, as a zod object: claims return it. */
  key: z.ZodType<Key> & { shape: Record<string, z.ZodTypeAny> };
  /** The status of a row sent: `sent` for alerts, `done` for check runs. */
  doneStatus: string;
  /** How long a claim lasts: longer than the sum of the deadlines of the calls made under it. */
  leaseMs: number;
}

/** A row this worker holds until `leaseUntil`; record its outcome with the same claim. */
export interface Claim<Key> {
  key: Key;
  token: string;
  /** The row's version at the claim: a change meanwhile makes it due again when recorded. */
  version: number;
  attempts: number;
  /**
   * The last send may have arrived: it timed out after the request left, or its worker died
   * holding the lease. A channel that can look first should, before sending again.
   */
  inDoubt: boolean;
  leaseUntil: Date;
}

/** What became of a send. */
export type SendOutcome =
  /** Sent: `set` names columns to write with it (the check run's id, the Slack ts). */
  | { kind: "done"; set?: Record<string, ValueExpression> }
  /**
   * Not sent, try again at `at`. `countAttempt: false` for a wait that is not a failure (a rate
   * limit, a parent message not sent yet); `inDoubt` when the request may have arrived.
   */
  | { kind: "retry"; at: Date; error?: string; countAttempt?: boolean; inDoubt?: boolean }
  /** Given up: the row ends as failed with its error, unless it changed meanwhile. */
  | { kind: "failed"; error: string };

export interface Outbox<Key> {
  /**
   * Claims the next due row in a short transaction of its own (`FOR UPDATE SKIP LOCKED`, so
   * replicas never claim one row twice) and commits at once: the send that follows holds no
   * transaction and no row lock. The row is not due again until the lease ends.
   */
  claim(now: Date): Promise<Claim<Key> | null>;
  /**
   * Records a send's outcome in a second short transaction, if the lease is still this
   * worker's. A row whose version moved during the send is due again at once.
   * @returns false when the lease was lost (it ran out and another worker took the row).
   */
  record(claim: Claim<Key>, outcome: SendOutcome, now: Date): Promise<boolean>;
}

/**
 * Claim, lease and record for one outbox table: the only place that writes those columns
 * outside ingest. Workers say what to send (see `createOutboxWorker`).
 */
export function createOutbox<Key extends Record<string, string | number>>(pool: DatabasePool, spec: OutboxTable<Key>): Outbox<Key> {
  const table = sql.identifier([spec.table]);
  const keyColumns = Object.keys(spec.key.shape);
  const columnsOf = (alias: string): IdentifierSqlToken[] => keyColumns.map((column) => sql.identifier([alias, column]));
  const claimed = z.object({ version: z.number(), attempts: z.number(), in_doubt: z.boolean(), lease_until: z.date() }).passthrough();

  const matches = (key: Key): FragmentSqlToken =>
    sql.fragment`(${sql.join(keyColumns.map((c) => sql.identifier([c])), sql.fragment`, `)}) = (${sql.join(
      keyColumns.map((c) => key[c] as ValueExpression),
      sql.fragment`, `,
    )})`;

  return {
    async claim(now) {
      const token = randomUUID();
      const leaseUntil = new Date(now.getTime() + spec.leaseMs);
      const row = await pool.maybeOne(sql.type(claimed)`
        WITH due AS (
          SELECT ${sql.join(columnsOf("o"), sql.fragment`, `)}, o.lease_token AS previous_token
          FROM ${table} o
          WHERE o.status = 'pending' AND o.next_attempt_at <= ${sql.timestamp(now)}
          ORDER BY o.next_attempt_at
          LIMIT 1
          FOR UPDATE SKIP LOCKED
        )
        UPDATE ${table} t SET lease_token = ${token}, next_attempt_at = ${sql.timestamp(leaseUntil)}
        FROM due
        WHERE (${sql.join(columnsOf("t"), sql.fragment`, `)}) = (${sql.join(columnsOf("due"), sql.fragment`, `)})
        RETURNING ${sql.join(columnsOf("t"), sql.fragment`, `)}, t.version, t.attempts,
          (t.in_doubt OR due.previous_token IS NOT NULL) AS in_doubt, t.next_attempt_at AS lease_until`);
      if (!row) return null;
      return {
        key: spec.key.parse(row),
        token,
        version: row.version,
        attempts: row.attempts,
        inDoubt: row.in_doubt,
        leaseUntil: row.lease_until,
      };
    },

    async record(claim, outcome, now) {
      const version = claim.version;
      // A row that changed during the send has something new to send: due now once sent or
      // given up on, with its attempts counted afresh (ingest reset them with the change). A
      // retry keeps its time: what made it wait (a rate limit, an outage) holds for the new
      // content too, which that try will read.
      const changed = sql.fragment`version <> ${version}`;
      let set: FragmentSqlToken;
      if (outcome.kind === "done") {
        const extra = Object.entries(outcome.set ?? {}).map(([column, value]) => sql.fragment`, ${sql.identifier([column])} = ${value}`);
        set = sql.fragment`
          status = CASE WHEN ${changed} THEN 'pending' ELSE ${spec.doneStatus} END,
          next_attempt_at = CASE WHEN ${changed} THEN ${sql.timestamp(now)} ELSE next_attempt_at END,
          attempts = CASE WHEN ${changed} THEN 0 ELSE attempts + 1 END,
          last_error = NULL, in_doubt = false ${extra.length > 0 ? sql.join(extra, sql.fragment``) : sql.fragment``}`;
      } else if (outcome.kind === "retry") {
        set = sql.fragment`
          status = 'pending',
          next_attempt_at = ${sql.timestamp(outcome.at)},
          attempts = attempts + ${outcome.countAttempt === false ? 0 : 1},
          last_error = coalesce(${outcome.error?.slice(0, 2000) ?? null}, last_error),
          in_doubt = ${outcome.inDoubt === true}`;
      } else {
        set = sql.fragment`
          status = CASE WHEN ${changed} THEN 'pending' ELSE 'failed' END,
          next_attempt_at = CASE WHEN ${changed} THEN ${sql.timestamp(now)} ELSE next_attempt_at END,
          attempts = attempts + 1, last_error = ${outcome.error.slice(0, 2000)}, in_doubt = false`;
      }
      const result = await pool.query(sql.unsafe`
        UPDATE ${table} SET ${set}, lease_token = NULL, updated_at = now()
        WHERE ${matches(claim.key)} AND lease_token = ${claim.token}`);
      return result.rowCount === 1;
    },
  };
}
