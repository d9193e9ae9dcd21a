import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

const queueRow = z.object({ channel: z.string(), pending: z.number(), failed: z.number() });

/** Pending and failed alert rows per channel: the outbox's depth and its give-ups. */
export async function readAlertQueue(connection: CommonQueryMethods): Promise<Array<z.infer<typeof queueRow>>> {
  const rows = await connection.any(sql.type(queueRow)`
    SELECT channel,
           count(*) FILTER (WHERE status = 'pending')::int AS pending,
           count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM alerts WHERE status IN ('pending', 'failed')
    GROUP BY channel`);
  return [...rows];
}
