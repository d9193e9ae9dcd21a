/** What a redacted secret reads as (GitHub's own mask). */
export const REDACTED = "***";

/** Whole private key blocks; an unterminated one (cut off by the excerpt) up to the end. */
const PRIVATE_KEY_BLOCK = /-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g;
/** The end of a block whose beginning the excerpt left out: everything before it goes. */
const PRIVATE_KEY_END = /^[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;

/** Token shapes with a prefix that says what they are. */
const TOKENS: RegExp[] = [
  // GitHub: personal, OAuth, app installation, user-to-server and refresh tokens, fine-grained PATs.
  /\bgh[pousr]_[A-Za-z0-9]{16,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  // Slack: bot, user, app-level, refresh and configuration tokens.
  /\bxox[abpre]-[A-Za-z0-9-]{8,}/g,
  /\bxapp-[A-Za-z0-9-]{8,}/g,
  // AWS access key ids (long-lived and temporary).
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
];

/** `Bearer <token>`, and an Authorization header of any scheme. */
const BEARER = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const AUTHORIZATION = /\b(Authorization:\s*(?:token|basic|bearer)?\s*)[^\s"']+/gi;

/** `scheme://user:password@host`: the password goes, the user and host stay. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi;

/** A line of base64 as long as a PEM body's: a key whose markers the excerpt cut off. */
const PEM_BODY_LINE = /^[A-Za-z0-9+/]{60,}={0,2}$/;

/**
 * Removes common secret shapes from text read from a build log before it is stored: GitHub
 * masks the secrets it knows, not a token printed by a script from elsewhere. Lines (`\n`)
 * are kept, so an excerpt keeps its shape.
 */
export function redactSecrets(text: string): string {
  let out = text.replace(PRIVATE_KEY_BLOCK, `-----BEGIN PRIVATE KEY----- ${REDACTED}`);
  if (PRIVATE_KEY_END.test(out) && !out.includes("-----BEGIN PRIVATE KEY----- ***")) {
    out = out.replace(PRIVATE_KEY_END, `${REDACTED} -----END PRIVATE KEY-----`);
  }
  for (const pattern of TOKENS) out = out.replace(pattern, REDACTED);
  out = out
    .replace(BEARER, `$1${REDACTED}`)
    .replace(AUTHORIZATION, `$1${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`);
  return out
    .split("\n")
    .map((line) => (PEM_BODY_LINE.test(line.trim()) && /\d/.test(line) && /[A-Z]/.test(line) && /[a-z]/.test(line) ? REDACTED : line))
    .join("\n");
}
