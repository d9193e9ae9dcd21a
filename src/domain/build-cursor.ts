/**
 * Where a keyset page of the builds list starts: the position of the last build of the page
 * before, in the list's order (created_at newest first, builds without one last, then id).
 * `createdAt` is PostgreSQL's own microseconds as UTC text ("2024-05-01T10:00:00.123456"), so
 * the position is exact: a JavaScript Date holds milliseconds only.
 */
export interface BuildCursor {
  createdAt: string | null;
  id: number;
}

const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;
const ID = /^\d{1,15}$/;

/** The opaque `before` text of a position. */
export function encodeBuildCursor(cursor: BuildCursor): string {
  return Buffer.from(`${cursor.createdAt ?? ""}~${cursor.id}`, "utf8").toString("base64url");
}

/** The position a `before` text stands for, or null when it is not one {@link encodeBuildCursor} writes. */
export function decodeBuildCursor(text: string): BuildCursor | null {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) return null;
  const [createdAt, id, ...rest] = Buffer.from(text, "base64url").toString("utf8").split("~");
  if (rest.length > 0 || createdAt === undefined || id === undefined || !ID.test(id)) return null;
  if (createdAt !== "" && !isRealTime(createdAt)) return null;
  return { createdAt: createdAt === "" ? null : createdAt, id: Number(id) };
}

/** A real UTC time to the microsecond: "2024-02-31T..." is not one. */
function isRealTime(text: string): boolean {
  if (!CREATED_AT.test(text)) return false;
  const milliseconds = Date.parse(`${text.slice(0, 23)}Z`);
  return !Number.isNaN(milliseconds) && new Date(milliseconds).toISOString().slice(0, 23) === text.slice(0, 23);
}
