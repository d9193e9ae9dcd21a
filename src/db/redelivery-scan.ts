import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

const scanRow = z.object({
  floor_id: z.number().nullable(),
  walk_top_id: z.number().nullable(),
  walk_cursor: z.string().nullable(),
  version: z.number(),
});

/** How far GitHub's delivery log has been read (see migrations/0013_redeliveries.sql). */
export type RedeliveryScan = z.infer<typeof scanRow>;

/** The position in GitHub's delivery log, as the last pass left it. */
export async function getRedeliveryScan(connection: CommonQueryMethods): Promise<RedeliveryScan> {
  return connection.one(sql.type(scanRow)`SELECT floor_id, walk_top_id, walk_cursor, version FROM redelivery_scan`);
}

/**
 * Saves the position a pass reached, unless another pass saved one since `version` was read.
 * @returns false when another pass saved first (its position stands; this one's work was the same).
 */
export async function saveRedeliveryScan(
  connection: CommonQueryMethods,
  version: number,
  next: { floorId: number | null; walkTopId: number | null; walkCursor: string | null },
): Promise<boolean> {
  const result = await connection.query(sql.unsafe`
    UPDATE redelivery_scan SET floor_id = ${next.floorId}, walk_top_id = ${next.walkTopId}, walk_cursor = ${next.walkCursor},
      version = version + 1, updated_at = now()
    WHERE version = ${version}`);
  return result.rowCount === 1;
}
