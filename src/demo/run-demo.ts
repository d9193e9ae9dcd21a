import type { Logger } from "pino";
import type { Config } from "../config.js";
import { start, type StartOptions } from "../start.js";
import { demoDeliveries } from "./demo-deliveries.js";
import { createLiveRuns } from "./live-runs.js";
import type { DemoDelivery } from "./run-deliveries.js";
import { sendDelivery, type WebhookTarget } from "./send-delivery.js";

export interface DemoOptions {
  /** Runboard's configuration: demo mode, with the made-up GitHub App the deliveries are signed for. */
  config: Config;
  log: Logger;
  seed: number;
  /** Days of history fed at start. */
  days: number;
  /** A new live push every this many seconds once the history is in; 0: none. */
  liveEverySeconds: number;
  now?: () => Date;
  /** Told as history deliveries are accepted. */
  onProgress?: (sent: number, total: number) => void;
  Octokit?: StartOptions["Octokit"];
}

export interface RunningDemo {
  url: string;
  /** Settles once the whole history has been accepted; rejects when the endpoint refused some. */
  history: Promise<{ deliveries: number }>;
  /** Stops the live runs, then Runboard. */
  stop(): Promise<void>;
}

/** Deliveries in flight at once while the history is fed: ingest batches what arrives together. */
const CONCURRENCY = 8;
const TICK_MS = 250;

/**
 * Runs Runboard on demo data:
 * 1. make the history's deliveries: `days` days up to now
 * 2. start Runboard as `npm start` does (demo mode: nothing calls GitHub)
 * 3. feed it the history, signed, through its own webhook endpoint
 * 4. then a live push every few seconds, each delivery sent when its time comes
 * Answers once Runboard listens; the history goes on in the background (`history`).
 */
export async function runDemo(options: DemoOptions): Promise<RunningDemo> {
  const { config, log } = options;
  const now = options.now ?? (() => new Date());
  if (!config.demo || !config.github) {
    throw new Error("runDemo needs demo mode (DEMO=true) and a GitHub App configuration to sign deliveries for");
  }
  const to = now();
  let deliveries = [...demoDeliveries({ seed: options.seed, from: new Date(to.getTime() - options.days * 86_400_000), to })];
  const total = deliveries.length;

  const runboard = await start({ config, log, now, Octokit: options.Octokit });
  const target: WebhookTarget = { url: `${runboard.url}${config.webhookPath}`, secret: config.github.webhookSecret, appId: config.github.appId };
  let stopped = false;
  let liveTimer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  const history = feed(target, deliveries, { isStopped: () => stopped, onProgress: options.onProgress }).then(() => {
    if (!stopped && options.liveEverySeconds > 0) {
      const live = createLiveRuns({ seed: options.seed, history: deliveries });
      const pending: DemoDelivery[] = [];
      let nextPush = now().getTime();
      const tick = async () => {
        const at = now().getTime();
        if (at >= nextPush) {
          pending.push(...live.next(new Date(at)));
          pending.sort((a, b) => a.at.getTime() - b.at.getTime());
          nextPush = at + options.liveEverySeconds * 1000;
        }
        while (!stopped && pending.length > 0 && pending[0]!.at.getTime() <= at) {
          const delivery = pending.shift()!;
          await send(target, delivery).catch((error: unknown) =>
            log.warn({ err: error, deliveryId: delivery.id, event: delivery.event }, "demo delivery not accepted; the live runs go on"),
          );
        }
      };
      liveTimer = setInterval(() => {
        ticking = ticking.then(tick).catch((error: unknown) => log.error({ err: error }, "demo live runs failed; the next push tries again"));
      }, TICK_MS);
    }
    // The payloads are stored now; the live runs only needed where their numbers stop.
    deliveries = [];
    return { deliveries: total };
  });
  // The caller sees a failure through `history`; this keeps a stop meanwhile from leaving an
  // unhandled rejection behind.
  history.catch(() => undefined);

  return {
    url: runboard.url,
    history,
    async stop() {
      stopped = true;
      clearInterval(liveTimer);
      await history.catch(() => undefined);
      await ticking;
      await runboard.stop();
    },
  };
}

/** Sends the deliveries in order, a few at a time; stops at the first one refused. */
async function feed(
  target: WebhookTarget,
  deliveries: readonly DemoDelivery[],
  options: { isStopped: () => boolean; onProgress?: (sent: number, total: number) => void },
): Promise<void> {
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (!options.isStopped() && next < deliveries.length) {
      await send(target, deliveries[next++]!);
      options.onProgress?.(++sent, deliveries.length);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** One delivery; a 503 (the database busy for a moment) is tried again, as GitHub would redeliver. */
async function send(target: WebhookTarget, delivery: DemoDelivery): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const response = await sendDelivery(target, delivery);
    const body = await response.text();
    if (response.ok) return;
    if (response.status !== 503 || attempt === 3) {
      throw new Error(`the webhook endpoint answered ${response.status} to ${delivery.event} delivery ${delivery.id}: ${body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
}
