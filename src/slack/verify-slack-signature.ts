import { createHmac, timingSafeEqual } from "node:crypto";

/** Slack refuses to replay older requests; so do we. */
export const SIGNATURE_WINDOW_SECONDS = 5 * 60;

export interface SignedRequest {
  /** `x-slack-request-timestamp`: Unix seconds. */
  timestamp: string | undefined;
  /** `x-slack-signature`: `v0=` and the hex HMAC. */
  signature: string | undefined;
  /** The body exactly as it arrived. */
  body: string;
}

/** Why a request was refused, for the log and the 401; null when it is Slack's. */
export function slackSignatureProblem(signingSecret: string, request: SignedRequest, now: Date): string | null {
  if (!request.timestamp || !request.signature) return "missing x-slack-signature or x-slack-request-timestamp";
  if (!/^\d{1,12}$/.test(request.timestamp)) return "malformed x-slack-request-timestamp";
  if (Math.abs(now.getTime() / 1000 - Number(request.timestamp)) > SIGNATURE_WINDOW_SECONDS) {
    return "x-slack-request-timestamp is more than 5 minutes away from now (replayed, or the clock is off)";
  }
  const expected = Buffer.from(signSlackRequest(signingSecret, request.timestamp, request.body));
  const given = Buffer.from(request.signature);
  // Same length first: timingSafeEqual throws otherwise, and the length is no secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return "signature does not match: check SLACK_SIGNING_SECRET";
  }
  return null;
}

/** Slack's v0 signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret. */
export function signSlackRequest(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}
