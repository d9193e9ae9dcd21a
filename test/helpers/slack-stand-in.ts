import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SlackCall {
  method: string;
  authorization: string | undefined;
  body: Record<string, any>;
}

type Responder = (call: SlackCall, res: ServerResponse) => void;

export interface SlackStandIn {
  /** Base URL for SLACK_API_URL. */
  apiUrl: string;
  calls: SlackCall[];
  /** Answers the next calls with these responders, in order, then with the default. */
  queue(...responders: Responder[]): void;
  stop(): Promise<void>;
}

/** Answers like Slack's chat.postMessage: ok, the channel id and a fresh ts. */
export const ok: Responder = (call, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ok: true, channel: "C0ALERTS", ts: `1700000000.${String(Date.now()).slice(-6)}${Math.floor(Math.random() * 1000)}` }));
};

export const rateLimited =
  (seconds: number): Responder =>
  (_call, res) => {
    res.statusCode = 429;
    res.setHeader("retry-after", String(seconds));
    res.end();
  };

/** A stand-in for Slack's Web API on loopback, reached through SLACK_API_URL. */
export async function startSlackStandIn(): Promise<SlackStandIn> {
  const calls: SlackCall[] = [];
  const pending: Responder[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => {
      const call: SlackCall = {
        method: (req.url ?? "").replace(/^\/api\//, ""),
        authorization: req.headers.authorization,
        body: data ? JSON.parse(data) : {},
      };
      calls.push(call);
      (pending.shift() ?? ok)(call, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    queue: (...responders) => pending.push(...responders),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
