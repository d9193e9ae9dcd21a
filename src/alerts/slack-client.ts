/** Slack answered 429: try again after `retryAfterSeconds`. */
export class SlackRateLimitedError extends Error {
  override name = "SlackRateLimitedError";
  constructor(readonly retryAfterSeconds: number) {
    super(`Slack rate limit: retry after ${retryAfterSeconds} s`);
  }
}

/**
 * Slack answered `ok: false` (for example `channel_not_found`, `invalid_auth`), or an HTTP
 * error status (`code` is then `HTTP <status>`). `needed` is the scope a `missing_scope` names.
 */
export class SlackApiError extends Error {
  override name = "SlackApiError";
  constructor(
    readonly method: string,
    readonly code: string,
    readonly needed?: string,
  ) {
    super(`Slack ${method} failed: ${code}${needed ? ` (needs ${needed})` : ""}`);
  }
}

/** Every Slack Web API call fails after this long without an answer. */
export const SLACK_CALL_DEADLINE_MS = 10_000;

/** Whether a call failed for want of an answer: the request may have arrived all the same. */
export function isSlackTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

/** Failures that happen before a request can leave: Slack cannot have seen it. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/**
 * Whether Slack may have acted on a call that failed: no answer came (a time-out, or the
 * connection closed after the request was written). Any answer, even an error, is definite;
 * so is a connection that never opened.
 */
export function mayHaveArrived(error: unknown): boolean {
  if (isSlackTimeout(error)) return true;
  // fetch reports a broken connection as a TypeError whose cause names the socket's error.
  if (!(error instanceof TypeError) || error.cause == null) return false;
  const code = (error.cause as { code?: unknown }).code;
  return !(typeof code === "string" && NEVER_SENT.has(code));
}

/** Slack message metadata (chat.postMessage `metadata`), read back with `include_all_metadata`. */
export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, string | number | boolean>;
}

export interface PostMessage {
  channel: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
  metadata?: MessageMetadata;
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
      const code = typeof json.error === "string" ? json.error : "unknown_error";
      throw new SlackApiError(method, code, typeof json.needed === "string" ? json.needed : undefined);
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

/** Pages read at most by `findMessage`: each is one call under SLACK_CALL_DEADLINE_MS. */
export const FIND_MESSAGE_MAX_PAGES = 3;

/**
 * Looks for a message by its metadata, newest pages first: in a channel's top-level history
 * (conversations.history), or in one thread (conversations.replies) when `threadTs` is given.
 * Reads at most `FIND_MESSAGE_MAX_PAGES` pages of `limit` messages posted after `oldest`, so a
 * busy channel costs a bounded number of calls. Needs `channels:history` (and `groups:history`
 * for private channels) and a channel id, not a `#name`.
 * @returns the message's ts, or null when none of the pages read has it.
 */
export async function findMessage(
  slack: SlackClient,
  options: {
    channelId: string;
    threadTs?: string;
    /** Only messages after this moment are read. */
    oldest: Date;
    matches: (metadata: MessageMetadata) => boolean;
    limit?: number;
  },
): Promise<{ ts: string } | null> {
  const method = options.threadTs ? "conversations.replies" : "conversations.history";
  let cursor: string | undefined;
  for (let page = 0; page < FIND_MESSAGE_MAX_PAGES; page++) {
    const json = await slack.call(method, {
      channel: options.channelId,
      ...(options.threadTs ? { ts: options.threadTs } : {}),
      oldest: slackTs(options.oldest),
      include_all_metadata: true,
      limit: options.limit ?? 200,
      ...(cursor ? { cursor } : {}),
    });
    const messages = Array.isArray(json.messages) ? (json.messages as unknown[]) : [];
    for (const message of messages) {
      const { ts, metadata } = (message ?? {}) as { ts?: unknown; metadata?: Partial<MessageMetadata> };
      if (typeof ts !== "string" || !metadata || typeof metadata.event_type !== "string") continue;
      if (typeof metadata.event_payload !== "object" || metadata.event_payload === null) continue;
      if (options.matches(metadata as MessageMetadata)) return { ts };
    }
    const next = (json.response_metadata as { next_cursor?: unknown } | undefined)?.next_cursor;
    if (typeof next !== "string" || next === "") return null;
    cursor = next;
  }
  return null;
}

/** A moment as Slack writes it: seconds since the epoch, with microseconds. */
function slackTs(date: Date): string {
  return (date.getTime() / 1000).toFixed(6);
}
