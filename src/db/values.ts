import { sql, type FragmentSqlToken, type ValueExpression } from "slonik";
import { cleanText } from "../domain/clean-text.js";

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
 * GitHub's data is whatever people typed, so it is cleaned (see cleanText) rather than
 * failing the row.
 */
export function text(value: string | null): string | null {
  return value === null ? null : cleanText(value);
}

/** A timestamp as ISO text, for arrays of timestamps cast with `::timestamptz`. */
export function isoText(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

// JSON.stringify writes a NUL as \u0000 and a lone surrogate as \udXXX (a pair it writes as
// itself), and PostgreSQL's JSON parser refuses both escapes.
const REFUSED_ESCAPE = /\\u(?:0000|d[89a-f])/;
// An escaped backslash is matched whole, so the `\u` of `\\u0000` (a backslash, then text) is never
// read as an escape.
const ESCAPE_TO_CLEAN = /\\\\|\\u0000|\\ud[89a-f][0-9a-f]{2}/g;

/**
 * JSON text for a `jsonb` parameter (cast with `::jsonb`) that PostgreSQL accepts: the text
 * of every string and key cleaned as cleanText does (a NUL dropped, a lone surrogate made
 * U+FFFD). The JSON is written once; only JSON that holds such an escape is edited.
 */
export function jsonText(value: unknown): string {
  const json = JSON.stringify(value ?? null);
  // includes() is a fast scan, the regex a slow one: sound JSON rarely has a \u escape at all.
  if (!json.includes("\\u") || !REFUSED_ESCAPE.test(json)) return json;
  return json.replace(ESCAPE_TO_CLEAN, (escape) => (escape === "\\\\" ? escape : escape === "\\u0000" ? "" : "\\ufffd"));
}
