import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GithubCall {
  method: string;
  path: string;
  body: any;
  /** The request's headers (authorization among them). */
  headers: Record<string, string | string[] | undefined>;
}

export interface GithubAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Decides the answer to one request; a promise that never settles is a GitHub that never answers. */
export type GithubHandler = (call: GithubCall) => GithubAnswer | Promise<GithubAnswer>;

export interface GithubStandIn {
  /** For GHE_HOST / a Probot `baseUrl`: http://127.0.0.1:port */
  apiUrl: string;
  calls: GithubCall[];
  /** Replaces the handler for the next requests. */
  handle(handler: GithubHandler): void;
  /** Resolves once `count` requests matching `match` have arrived. */
  waitFor(match: (call: GithubCall) => boolean, count?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Never settles: the request stays open until its sender gives up. */
export const never = (): Promise<GithubAnswer> => new Promise(() => undefined);

/**
 * A stand-in for GitHub's REST API on loopback. Installation tokens are always granted; every
 * other request goes to the current handler, which may answer late or never.
 */
export async function startGithubStandIn(handler: GithubHandler = () => ({ status: 404, body: { message: "Not Found" } })): Promise<GithubStandIn> {
  const calls: GithubCall[] = [];
  let current = handler;
  const waiters: Array<() => void> = [];
  const open = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      const call: GithubCall = { method: req.method ?? "GET", path: url.pathname + url.search, body: data ? JSON.parse(data) : undefined, headers: req.headers };
      if (/^\/app\/installations\/\d+\/access_tokens$/.test(url.pathname)) {
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ token: "ghs_standin", expires_at: "2099-01-01T00:00:00Z", permissions: { checks: "write" } }));
        return;
      }
      calls.push(call);
      for (const wake of waiters.splice(0)) wake();
      open.add(res);
      res.on("close", () => open.delete(res));
      void Promise.resolve(current(call)).then((answer) => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}`,
    calls,
    handle(next) {
      current = next;
    },
    async waitFor(match, count = 1) {
      while (calls.filter(match).length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    stop() {
      for (const res of open) res.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
