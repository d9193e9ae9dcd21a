/** Slack answered 429: try again after `retryAfterSeconds`. */
export class SlackRateLimitedError extends Error {
  override name = "SlackRateLimitedError";
  constructor(readonly retryAfterSeconds: number) {
    super(`Slack rate limit: retry after ${retryAfterSeconds} s`);
  }
}

/** Slack answered `ok: false` (for example `channel_not_found`, `invalid_auth`). */
export class SlackApiError extends Error {
  override name = "SlackApiError";
  constructor(
    readonly method: string,
    readonly code: string,
  ) {
    super(`Slack ${method} failed: ${code}`);
  }
}

/** Every Slack Web API call fails after this long without an answer. */
export const SLACK_CALL_DEADLINE_MS = 10_000;

/** Whether a call failed for want of an answer: the request may have arrived all the same. */
export function isSlackTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

export interface PostMessage {
  channel: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
}

export interface SlackClient {
  /** chat.postMessage; resolves with the channel id and the message's ts. */
  postMessage(message: PostMessage): Promise<{ channel: string; ts: string }>;
  /** Any Web API method, for the bot. */
  call(method: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/**
 * A small Slack Web API client over fetch: bearer token, JSON bodies, `SLACK_API_URL` as the
 * base (Slack's, GovSlack's, or a stand-in), and 429 reported with its Retry-After rather than
 * waited out, so the caller's outbox decides when to try again.
 */
export function createSlackClient(options: { token: string; apiUrl: string; timeoutMs?: number }): SlackClient {
  const call = async (method: string, body: Record<string, unknown>) => {
    const response = await fetch(new URL(method, options.apiUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? SLACK_CALL_DEADLINE_MS),
    });
    if (response.status === 429) {
      const seconds = Number(response.headers.get("retry-after"));
      throw new SlackRateLimitedError(Number.isFinite(seconds) && seconds > 0 ? seconds : 30);
    }
    if (!response.ok) {
      throw new SlackApiError(method, `HTTP ${response.status}`);
    }
    const json = (await response.json()) as Record<string, unknown>;
    if (json.ok !== true) {
      throw new SlackApiError(method, typeof json.error === "string" ? json.error : "unknown_error");
    }
    return json;
  };
  return {
    call,
    async postMessage(message) {
      const json = await call("chat.postMessage", { ...message, unfurl_links: false, unfurl_media: false });
      return { channel: String(json.channel), ts: String(json.ts) };
    },
  };
}
