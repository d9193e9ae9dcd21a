import type { RequestListener } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";

/**
 * Wraps the server's request listener so that every request leaves one info line once its
 * answer is sent (or its connection is gone): method, path (without the query, which may hold a
 * login code), status, duration in milliseconds, and for webhooks GitHub's delivery id.
 */
export function withAccessLog(listener: RequestListener, log: Logger): RequestListener {
  return (request, response) => {
    const started = performance.now();
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const delivery = request.headers["x-github-delivery"];
      log.info(
        {
          method: request.method,
          path: (request.url ?? "/").split("?", 1)[0],
          status: response.headersSent ? response.statusCode : null,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          ...(typeof delivery === "string" ? { deliveryId: delivery } : {}),
          ...(response.writableFinished ? {} : { aborted: true }),
        },
        "request",
      );
    };
    response.once("finish", done);
    response.once("close", done);
    listener(request, response);
  };
}
