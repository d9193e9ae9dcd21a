import { sql, type FragmentSqlToken, type ValueExpression } from "slonik";

/**
 * Which installations a reader may see: null or undefined for all. Rows without an
 * installation (a delivery that named none) are only in "all".
 */
export type InstallationScope = readonly number[] | null | undefined;

/** The SQL condition for an {@link InstallationScope} on an installation id column. */
export function inScope(column: FragmentSqlToken, scope: InstallationScope): FragmentSqlToken {
  return scope == null ? sql.fragment`TRUE` : sql.fragment`${column} = ANY(${sql.array([...scope], "int8")})`;
}

/** A timestamp parameter, or NULL. */
export function timestamp(value: Date | null): ValueExpression {
  return value ? sql.timestamp(value) : null;
}

/**
 * Text for a `text` column. PostgreSQL refuses NUL characters in text and JSON, and
 * GitHub's data is whatever people typed, so they are dropped rather than failing the row.
 */
export function text(value: string | null): string | null {
  return value === null ? null : value.replaceAll("\u0000", "");
}

/** A timestamp as ISO text, for arrays of timestamps cast with `::timestamptz`. */
export function isoText(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

/** JSON text for a `jsonb` parameter (cast with `::jsonb`), without NUL characters. */
export function jsonText(value: unknown): string {
  const json = JSON.stringify(value ?? null);
  // A NUL can only appear escaped; only then pay for the slower walk that drops it.
  return json.includes("\\u0000")
    ? JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === "string" ? v.replaceAll("\u0000", "") : v))
    : json;
}
