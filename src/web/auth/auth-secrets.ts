import { createHash, timingSafeEqual } from "node:crypto";

/** Tokens issued on the account page start with this, so a stray one is recognisable (and the lookup skipped for others). */
export const API_TOKEN_PREFIX = "rbt_";

/**
 * The form in which session ids and API tokens are stored: a copy of the database then opens
 * no session and reads no API.
 */
export function hashSecret(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Compares a secret a client sent with the expected one in constant time, so timing tells nothing. */
export function equalSecret(sent: string, expected: string): boolean {
  const x = Buffer.from(sent);
  const y = Buffer.from(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}
