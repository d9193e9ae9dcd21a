import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";

/**
 * Where a pass stands in the walk of the `builds_created_idx` index, oldest first. The time
 * is PostgreSQL's own text (microseconds kept), not a JS Date (milliseconds).
 */
export interface RetentionPosition {
  createdAt: string;
  id: number;
}

/**
 * Which runs a batch looks at, oldest first: by creation time through `builds_created_idx`, or
 * by id through the primary key (runs stored since the last pass).
 */
export type RetentionWalk =
  | { by: "created_at"; before: Date; after: RetentionPosition | null }
  | { by: "id"; before: Date; after: number; through: number };

const batchRow = z.object({
  walked: z.number(),
  runs: z.number(),
  jobs: z.number(),
  last_created_at: z.string().nullable(),
  last_id: z.number().nullable(),
  skipped_created_at: z.string().nullable(),
  skipped_id: z.number().nullable(),
});

export interface DroppedBatch {
  /** Runs looked at (at most `limit`); fewer than `limit`: the walk is over. */
  walked: number;
  /** Run and job payloads dropped. */
  runs: number;
  jobs: number;
  /** Where the next batch starts; null when nothing was walked. */
  last: RetentionPosition | null;
  /** The first run whose payload, or one of whose jobs' payloads, was left: held, or a log still to read. */
  skipped: RetentionPosition | null;
}

/**
 * Drops the payloads of the next `limit` runs of `walk` created before `walk.before`, and of
 * their jobs, in one short statement. Rows another transaction holds (a write under way) are
 * skipped, never waited for, and so are failed jobs whose log is still to be read (the reader
 * takes the check run from the payload); the first run left is returned, so that a later pass
 * comes back to it. What pages read from a run's payload is kept beside it first
 * (`repository_private`, `repository_default_branch`). Nothing else of the rows changes, not
 * even `changed_at`: to everything else, the run is as it was.
 */
export async function dropPayloadBatch(connection: CommonQueryMethods, walk: RetentionWalk, limit: number): Promise<DroppedBatch> {
  const walked =
    walk.by === "created_at"
      ? sql.fragment`
        SELECT id, created_at FROM builds
        WHERE created_at < ${sql.timestamp(walk.before)}
          ${walk.after ? sql.fragment`AND (created_at, id) > (${walk.after.createdAt}::timestamptz, ${walk.after.id})` : sql.fragment``}
        ORDER BY created_at, id
        LIMIT ${limit}`
      : sql.fragment`
        SELECT id, created_at FROM builds
        WHERE id > ${walk.after} AND id <= ${walk.through} AND created_at < ${sql.timestamp(walk.before)}
        ORDER BY id
        LIMIT ${limit}`;
  const order = walk.by === "created_at" ? sql.fragment`created_at, id` : sql.fragment`id`;
  const orderDesc = walk.by === "created_at" ? sql.fragment`created_at DESC, id DESC` : sql.fragment`id DESC`;
  // The statement's one snapshot shows every row as it was before the UPDATEs in it: a row
  // with a payload in it that no UPDATE returned was skipped.
  const row = await connection.one(sql.type(batchRow)`
    WITH walked AS (${walked}),
    runs AS (
      SELECT b.id FROM builds b JOIN walked w ON w.id = b.id
      WHERE b.payload IS NOT NULL
      FOR UPDATE OF b SKIP LOCKED
    ), dropped_runs AS (
      UPDATE builds b SET
        repository_private = CASE jsonb_typeof(b.payload -> 'repository' -> 'private')
          WHEN 'boolean' THEN (b.payload -> 'repository' ->> 'private')::boolean END,
        repository_default_branch = b.payload -> 'repository' ->> 'default_branch',
        payload = NULL
      FROM runs WHERE b.id = runs.id
      RETURNING b.id
    ), jobs AS (
      SELECT j.id FROM build_jobs j JOIN walked w ON j.build_id = w.id
      WHERE j.payload IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM failure_excerpts f WHERE f.job_id = j.id AND f.status = 'pending')
      FOR UPDATE OF j SKIP LOCKED
    ), dropped_jobs AS (
      UPDATE build_jobs j SET payload = NULL FROM jobs WHERE j.id = jobs.id RETURNING j.id
    ), left_behind AS (
      SELECT w.id, w.created_at FROM walked w JOIN builds b ON b.id = w.id
      WHERE b.payload IS NOT NULL AND w.id NOT IN (SELECT id FROM dropped_runs)
      UNION
      SELECT w.id, w.created_at FROM walked w JOIN build_jobs j ON j.build_id = w.id
      WHERE j.payload IS NOT NULL AND j.id NOT IN (SELECT id FROM dropped_jobs)
    ), last AS (
      SELECT created_at::text AS created_at, id FROM walked ORDER BY ${orderDesc} LIMIT 1
    ), skipped AS (
      SELECT created_at::text AS created_at, id FROM left_behind ORDER BY ${order} LIMIT 1
    )
    SELECT (SELECT count(*) FROM walked)::int AS walked,
           (SELECT count(*) FROM dropped_runs)::int AS runs,
           (SELECT count(*) FROM dropped_jobs)::int AS jobs,
           (SELECT created_at FROM last) AS last_created_at, (SELECT id FROM last) AS last_id,
           (SELECT created_at FROM skipped) AS skipped_created_at, (SELECT id FROM skipped) AS skipped_id`);
  const position = (createdAt: string | null, id: number | null) => (createdAt !== null && id !== null ? { createdAt, id } : null);
  return {
    walked: row.walked,
    runs: row.runs,
    jobs: row.jobs,
    last: position(row.last_created_at, row.last_id),
    skipped: position(row.skipped_created_at, row.skipped_id),
  };
}

/** Where the last pass ended, or null before the first. */
export interface RetentionMark {
  /** Every run created before this was done with (the first of those left, if any); PostgreSQL's text. */
  droppedBefore: string;
  /** And every run stored up to this id, created before droppedBefore. */
  lastBuildId: number;
}

export async function getRetentionMark(connection: CommonQueryMethods): Promise<RetentionMark | null> {
  const row = await connection.maybeOne(sql.type(z.object({ dropped_before: z.string(), last_build_id: z.number() }))`
    SELECT dropped_before::text AS dropped_before, last_build_id FROM payload_retention`);
  return row ? { droppedBefore: row.dropped_before, lastBuildId: row.last_build_id } : null;
}

/** Records where a complete pass ended. */
export async function saveRetentionMark(connection: CommonQueryMethods, mark: RetentionMark): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO payload_retention (dropped_before, last_build_id) VALUES (${mark.droppedBefore}::timestamptz, ${mark.lastBuildId})
    ON CONFLICT (id) DO UPDATE SET dropped_before = EXCLUDED.dropped_before, last_build_id = EXCLUDED.last_build_id, updated_at = now()`);
}

/** The highest run id stored so far (0 with none). */
export async function getLastBuildId(connection: CommonQueryMethods): Promise<number> {
  return connection.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT coalesce(max(id), 0)::bigint AS id FROM builds`);
}
