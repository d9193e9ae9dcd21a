import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

/** A webhook delivery, by its X-GitHub-Delivery id. */
export interface Delivery {
  id: string;
  event: string;
  action: string | null;
}

/** Records deliveries; returns the ids recorded now (one seen before is left out). */
export async function recordDeliveries(tx: CommonQueryMethods, deliveries: Delivery[]): Promise<Set<string>> {
  if (deliveries.length === 0) return new Set();
  const ids = await tx.anyFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO deliveries (id, event, action)
    SELECT * FROM unnest(${sql.array(deliveries.map((d) => d.id), "text")}, ${sql.array(deliveries.map((d) => d.event), "text")},
                         ${sql.array(deliveries.map((d) => d.action), "text")})
    ON CONFLICT (id) DO NOTHING
    RETURNING id`);
  return new Set(ids);
}

