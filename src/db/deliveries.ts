import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

export interface Delivery {
  id: string;
  event: string;
  action: string | null;
}

/**
 * Records a webhook delivery by its X-GitHub-Delivery id.
 * @returns false when the delivery was recorded before: it must change nothing.
 */
export async function recordDelivery(connection: CommonQueryMethods, delivery: Delivery): Promise<boolean> {
  const row = await connection.maybeOne(sql.type(z.object({ id: z.string() }))`
    INSERT INTO deliveries (id, event, action)
    VALUES (${delivery.id}, ${delivery.event}, ${delivery.action})
    ON CONFLICT (id) DO NOTHING
    RETURNING id`);
  return row !== null;
}
