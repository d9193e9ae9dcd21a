import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { getAlertRules } from "../db/alert-settings.js";
import { insertAlert, type AlertChannel } from "../db/alerts.js";
import { listRepositoryNames } from "../db/channel-builds.js";
import { getLabelQueue } from "../db/job-metrics.js";
import { lockQueueAlertState, saveQueueAlertState } from "../db/queue-alert-states.js";
import { routeOf } from "../domain/alert-rules.js";
import { decideQueueAlert, QUEUE_ALERT_WINDOW_MS } from "../domain/queue-alert-policy.js";
import { labelSetName } from "../domain/queue-time.js";
import { createSchedule, type Schedule } from "../schedule.js";
import type { AlertingContext } from "./queue-alerts.js";

/** What a queue-time alert says; kept in the alert row's details. */
export interface QueueAlertDetails {
  labelSet: string;
  repositoryPattern: string;
  p95Seconds: number;
  thresholdMinutes: number;
  jobs: number;
  /** Jobs that waited longer than the threshold. */
  over: number;
}

export interface QueueTimeAlerts {
  start(): void;
  stop(): Promise<void>;
  /** Checks every route with a queue threshold once; resolves with the alerts written. */
  runOnce(): Promise<number>;
}

/**
 * The queue-time alert: every few minutes, for each route with `"queue": {"p95_minutes": N}`,
 * the p95 queue time of each runner label set over the last hour among the route's
 * repositories, decided by domain/queue-alert-policy.ts. The decision and its outbox rows are
 * one short transaction under the key's row lock, so replicas that check at once alert once;
 * the alert worker sends them like any alert.
 */
export function createQueueTimeAlerts(deps: {
  pool: DatabasePool;
  log: Logger;
  alerting: Pick<AlertingContext, "email" | "slack" | "now">;
  intervalSeconds?: number;
}): QueueTimeAlerts {
  const log = deps.log.child({ worker: "queue-alerts" });
  let schedule: Schedule | null = null;

  async function runOnce(): Promise<number> {
    const now = deps.alerting.now();
    const rules = await getAlertRules(deps.pool);
    const routes = rules.routes.filter((route) => route.queue);
    if (routes.length === 0) return 0;
    const names = await listRepositoryNames(deps.pool);
    let written = 0;
    for (const route of routes) {
      const repositories = names.filter((name) => routeOf(rules, name) === route);
      if (repositories.length === 0) continue;
      const thresholdSeconds = route.queue!.p95_minutes * 60;
      const rows = await getLabelQueue(deps.pool, {
        since: new Date(now.getTime() - QUEUE_ALERT_WINDOW_MS),
        until: now,
        now,
        repositories,
        overSeconds: thresholdSeconds,
      });
      for (const row of rows) {
        const labelSet = labelSetName(row.labels);
        const key = `${route.repository}\u0001${labelSet}`;
        written += await deps.pool.transaction(async (tx) => {
          const decision = decideQueueAlert(await lockQueueAlertState(tx, key), row.p95_seconds, thresholdSeconds, now);
          await saveQueueAlertState(tx, key, decision.next);
          if (!decision.alert) return 0;
          const details: QueueAlertDetails = {
            labelSet,
            repositoryPattern: route.repository,
            p95Seconds: row.p95_seconds,
            thresholdMinutes: route.queue!.p95_minutes,
            jobs: row.jobs,
            over: row.over,
          };
          const channels: AlertChannel[] = ["email", "slack"];
          for (const channel of channels) {
            const target =
              channel === "email"
                ? (route.email ?? deps.alerting.email?.to ?? [])
                : [route.slack_channel ?? deps.alerting.slack?.channel ?? null].filter((c): c is string => c !== null);
            const configured = channel === "email" ? deps.alerting.email : deps.alerting.slack;
            const off = !configured ? `${channel} not configured` : target.length === 0 ? `no ${channel} target (a route or the default)` : null;
            await insertAlert(tx, {
              buildId: null,
              runAttempt: null,
              kind: decision.alert,
              channel,
              target,
              status: off ? "skipped" : "pending",
              lastError: off,
              details: { ...details },
              nextAttemptAt: now,
            });
          }
          log.info({ labelSet, route: route.repository, alert: decision.alert, p95Seconds: row.p95_seconds }, "queue-time alert");
          return 1;
        });
      }
    }
    return written;
  }

  return {
    runOnce,
    start() {
      schedule = createSchedule({
        intervalSeconds: deps.intervalSeconds ?? 300,
        jitterSeconds: 30,
        run: () => runOnce().catch((error: unknown) => log.error({ err: error }, "queue-time check failed; trying again at the next one")),
      });
    },
    async stop() {
      await schedule?.stop();
      schedule = null;
    },
  };
}
