import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

/** The digests outbox: claims return the row's id (see db/outbox.ts). */
export const DIGESTS_OUTBOX = { table: "digests", key: z.object({ id: z.number() }), doneStatus: "sent" } as const;

export interface NewDigest {
  fireAt: Date;
  periodStart: Date;
  channel: "email" | "slack";
  target: string;
  repositories: readonly string[];
}

/**
 * Writes one digest to send, unless this fire time and target have one already: however many
 * replicas fire, one row (and so one message) per period and target.
 * @returns whether this call wrote it.
 */
export async function insertDigest(connection: CommonQueryMethods, digest: NewDigest): Promise<boolean> {
  const id = await connection.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO digests (fire_at, period_start, channel, target, repositories, status, next_attempt_at)
    VALUES (${sql.timestamp(digest.fireAt)}, ${sql.timestamp(digest.periodStart)}, ${digest.channel}, ${digest.target},
            ${sql.array([...digest.repositories], "text")}, 'pending', ${sql.timestamp(digest.fireAt)})
    ON CONFLICT ON CONSTRAINT digests_once DO NOTHING
    RETURNING id`);
  return id !== null;
}

const digestRow = z.object({
  id: z.number(),
  fire_at: z.date(),
  period_start: z.date(),
  channel: z.enum(["email", "slack"]),
  target: z.string(),
  repositories: z.array(z.string()).nullable(),
});
export type DigestToSend = z.infer<typeof digestRow>;

/** What a worker needs to send a digest it claimed. */
export async function getDigestToSend(connection: CommonQueryMethods, id: number): Promise<DigestToSend | null> {
  return connection.maybeOne(sql.type(digestRow)`
    SELECT id, fire_at, period_start, channel, target, repositories FROM digests WHERE id = ${id}`);
}
