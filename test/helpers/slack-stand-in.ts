import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SlackCall {
  method: string;
  authorization: string | undefined;
  body: Record<string, any>;
}

/** A message the stand-in keeps, as chat.postMessage stored it. */
export interface SlackMessage {
  /** The channel's id. */
  channel: string;
  ts: string;
  text?: string;
  blocks?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  bot_id: string;
}

export interface SlackChannel {
  id: string;
  /** Without the `#`. */
  name: string;
  is_private: boolean;
}

/** The stand-in's state, which responders may read and change. */
export interface SlackWorkspace {
  channels: SlackChannel[];
  messages: SlackMessage[];
  /** The bot token's scopes: a method that needs another answers `missing_scope`. */
  scopes: Set<string>;
  /** Answers a Web API call as Slack would, storing what it posts. */
  answer(call: SlackCall): Record<string, unknown>;
}

export type Responder = (call: SlackCall, res: ServerResponse, slack: SlackWorkspace) => void;

export interface SlackStandIn {
  /** Base URL for SLACK_API_URL. */
  apiUrl: string;
  calls: SlackCall[];
  /** Every scope the app can have; delete some to make methods answer `missing_scope`. */
  scopes: Set<string>;
  /** Answers the next calls with these responders, in order, then like Slack. */
  queue(...responders: Responder[]): void;
  /** Adds a channel (the bot is a member of every channel). */
  addChannel(name: string, options?: { id?: string; private?: boolean }): SlackChannel;
  /** The channel's id, for an id or a `#name`; unknown ones are created. */
  channelId(channel: string): string;
  /** The messages of a channel (id or `#name`), oldest first, replies included. */
  messages(channel: string): SlackMessage[];
  /** Stores a message as if the bot had posted it (a post whose answer never came back). */
  post(channel: string, message: Omit<SlackMessage, "channel" | "ts" | "bot_id">): SlackMessage;
  stop(): Promise<void>;
}

const json = (res: ServerResponse, body: unknown) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
};

/** Answers like Slack: posts are stored and read back, lists are paged. The default. */
export const slackLike: Responder = (call, res, slack) => json(res, slack.answer(call));

/** Answers ok with a fixed channel id and a fresh ts, storing nothing. */
export const ok: Responder = (_call, res) =>
  json(res, { ok: true, channel: "C0ALERTS", ts: `1700000000.${String(Date.now()).slice(-6)}${Math.floor(Math.random() * 1000)}` });

export const rateLimited =
  (seconds: number): Responder =>
  (_call, res) => {
    res.statusCode = 429;
    res.setHeader("retry-after", String(seconds));
    res.end();
  };

/**
 * Does what the call asks (a post is stored) and loses the answer: `hang` never answers, so the
 * client's deadline runs out; `destroy` closes the connection with no answer.
 */
export const loseAnswer =
  (mode: "hang" | "destroy"): Responder =>
  (call, res, slack) => {
    slack.answer(call);
    if (mode === "destroy") res.socket?.destroy();
  };

/** Slack's own answer to a call that lacks a scope. */
const missingScope = (needed: string, scopes: Set<string>) => ({
  ok: false as const,
  error: "missing_scope",
  needed,
  provided: [...scopes].join(","),
});

/** Cursors are opaque to clients; here, the offset of the next page. */
const cursorOf = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64");
const offsetOf = (cursor: unknown): number | null => {
  if (cursor === undefined || cursor === "") return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(String(cursor), "base64").toString());
  return match ? Number(match[1]) : null;
};

/** One page of `items` by `limit` and `cursor`, with Slack's paging fields, or an error answer. */
function page<T>(items: T[], body: Record<string, any>, key: string, defaultLimit: number): Record<string, unknown> {
  const offset = offsetOf(body.cursor);
  if (offset === null) return { ok: false, error: "invalid_cursor" };
  const limit = Math.min(Math.max(Number(body.limit ?? defaultLimit) || defaultLimit, 1), 999);
  const more = offset + limit < items.length;
  return {
    ok: true,
    [key]: items.slice(offset, offset + limit),
    has_more: more,
    response_metadata: { next_cursor: more ? cursorOf(offset + limit) : "" },
  };
}

const isId = (channel: string) => /^[CGD][A-Z0-9]+$/.test(channel);
const flag = (value: unknown) => value === true || value === "true" || value === 1 || value === "1";

/**
 * A stand-in for Slack's Web API on loopback, reached through SLACK_API_URL. It keeps the
 * messages posted per channel (with their metadata, ts and thread_ts) and answers
 * chat.postMessage, conversations.history, conversations.replies and conversations.list as
 * Slack does: ids, not names, for reading; metadata only with `include_all_metadata`; newest
 * first in history, oldest first in threads; pages by `limit` and `cursor`; `missing_scope`
 * when a scope is taken away. `#ci` is channel C0ALERTS; other channels are created when first
 * named. Any other path answers `{ ok: true }` (response URLs).
 */
export async function startSlackStandIn(): Promise<SlackStandIn> {
  const calls: SlackCall[] = [];
  const pending: Responder[] = [];
  let lastMicros = 0;
  let channelNumber = 0;
  const workspace: SlackWorkspace = {
    channels: [{ id: "C0ALERTS", name: "ci", is_private: false }],
    messages: [],
    scopes: new Set(["chat:write", "commands", "channels:history", "groups:history", "channels:read", "groups:read"]),
    answer,
  };

  function addChannel(name: string, options: { id?: string; private?: boolean } = {}): SlackChannel {
    const channel = { id: options.id ?? `C0${String(++channelNumber).padStart(8, "0")}`, name, is_private: options.private ?? false };
    workspace.channels.push(channel);
    return channel;
  }
  const find = (channel: string) =>
    isId(channel) ? workspace.channels.find((c) => c.id === channel) : workspace.channels.find((c) => c.name === channel.replace(/^#/, ""));
  const channelId = (channel: string) =>
    (find(channel) ?? (isId(channel) ? addChannel(channel.toLowerCase(), { id: channel }) : addChannel(channel.replace(/^#/, "")))).id;

  /** A fresh ts: the time, in microseconds, never the same twice. */
  function nextTs(): string {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, "0")}`;
  }

  function store(channel: string, message: Omit<SlackMessage, "channel" | "ts" | "bot_id">): SlackMessage {
    const stored: SlackMessage = { ...message, channel: channelId(channel), ts: nextTs(), bot_id: "B0RUNBOARD" };
    workspace.messages.push(stored);
    return stored;
  }

  /** A message as the read methods show it: metadata only when asked for. */
  const shown = (message: SlackMessage, body: Record<string, any>) => {
    const { metadata, channel: _channel, ...rest } = message;
    return { type: "message", ...rest, ...(metadata && flag(body.include_all_metadata) ? { metadata } : {}) };
  };
  const inWindow = (ts: string, body: Record<string, any>) => {
    const inclusive = flag(body.inclusive);
    const t = Number(ts);
    const after = body.oldest === undefined || (inclusive ? t >= Number(body.oldest) : t > Number(body.oldest));
    const before = body.latest === undefined || (inclusive ? t <= Number(body.latest) : t < Number(body.latest));
    return after && before;
  };
  /** The channel a read method names, by id only, or the error Slack answers. */
  function readable(body: Record<string, any>): SlackChannel | { ok: false; error: string; needed?: string; provided?: string } {
    const channel = typeof body.channel === "string" && isId(body.channel) ? find(body.channel) : undefined;
    if (!channel) return { ok: false, error: "channel_not_found" };
    const needed = channel.is_private ? "groups:history" : "channels:history";
    if (!workspace.scopes.has(needed)) return missingScope(needed, workspace.scopes);
    return channel;
  }

  function answer(call: SlackCall): Record<string, unknown> {
    const body = call.body;
    switch (call.method) {
      case "chat.postMessage": {
        if (!workspace.scopes.has("chat:write")) return missingScope("chat:write", workspace.scopes);
        const { channel, text, blocks, thread_ts, reply_broadcast, metadata } = body;
        const message = store(String(channel), {
          text,
          blocks,
          ...(thread_ts ? { thread_ts: String(thread_ts) } : {}),
          ...(reply_broadcast ? { reply_broadcast: true } : {}),
          ...(metadata ? { metadata: typeof metadata === "string" ? JSON.parse(metadata) : metadata } : {}),
        });
        return { ok: true, channel: message.channel, ts: message.ts, message: shown(message, {}) };
      }
      case "conversations.history": {
        const channel = readable(body);
        if (!("id" in channel)) return channel;
        const topLevel = workspace.messages
          .filter((m) => m.channel === channel.id && (!m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast) && inWindow(m.ts, body))
          .sort((a, b) => Number(b.ts) - Number(a.ts))
          .map((m) => shown(m, body));
        return page(topLevel, body, "messages", 100);
      }
      case "conversations.replies": {
        const channel = readable(body);
        if (!("id" in channel)) return channel;
        const parent = workspace.messages.find((m) => m.channel === channel.id && m.ts === String(body.ts));
        if (!parent) return { ok: false, error: "thread_not_found" };
        const replies = workspace.messages
          .filter((m) => m.channel === channel.id && m.thread_ts === parent.ts && m.ts !== parent.ts && inWindow(m.ts, body))
          .sort((a, b) => Number(a.ts) - Number(b.ts));
        return page([parent, ...replies].map((m) => shown(m, body)), body, "messages", 1000);
      }
      case "conversations.list": {
        const types = String(body.types ?? "public_channel").split(",");
        for (const [type, needed] of [["public_channel", "channels:read"], ["private_channel", "groups:read"]] as const) {
          if (types.includes(type) && !workspace.scopes.has(needed)) return missingScope(needed, workspace.scopes);
        }
        const listed = workspace.channels
          .filter((c) => types.includes(c.is_private ? "private_channel" : "public_channel"))
          .map((c) => ({ id: c.id, name: c.name, is_channel: true, is_private: c.is_private, is_archived: false, is_member: true }));
        return page(listed, body, "channels", 100);
      }
      default:
        return { ok: true };
    }
  }

  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => {
      const call: SlackCall = {
        method: (req.url ?? "").replace(/^\/api\//, ""),
        authorization: req.headers.authorization,
        body: parseBody(data),
      };
      calls.push(call);
      (pending.shift() ?? slackLike)(call, res, workspace);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    scopes: workspace.scopes,
    queue: (...responders) => pending.push(...responders),
    addChannel,
    channelId,
    messages: (channel) => {
      const id = find(channel)?.id;
      return workspace.messages.filter((m) => m.channel === id).sort((a, b) => Number(a.ts) - Number(b.ts));
    },
    post: store,
    stop: () =>
      new Promise<void>((resolve) => {
        // An answer held back on purpose keeps its connection open: close it too.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Slack takes JSON or form bodies (the SDK sends forms, with JSON-encoded fields). */
function parseBody(data: string): Record<string, any> {
  if (!data) return {};
  try {
    return JSON.parse(data);
  } catch {
    return Object.fromEntries(new URLSearchParams(data));
  }
}
