// A NUL, or any surrogate: a cheap first look that sound text, nearly all of it, passes.
const SUSPECT = /[\u0000\ud800-\udfff]/;
// A high surrogate with no low one after it, or a low one with no high one before it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text as PostgreSQL can store it in `text` and `jsonb`: each lone UTF-16 surrogate (half of
 * an emoji, cut) becomes U+FFFD, as a UTF-8 decoder does with a broken sequence, and NUL
 * characters are dropped. GitHub passes on whatever people typed; the rest of the text is
 * still worth keeping. Sound text is returned as it is.
 */
export function cleanText(value: string): string {
  if (!SUSPECT.test(value)) return value;
  // NUL is invisible and carries nothing: dropped, as `db/values.ts` always has, so that text
  // stored before and after reads the same.
  return value.replace(LONE_SURROGATE, "\ufffd").replaceAll("\u0000", "");
}
