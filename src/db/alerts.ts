import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { inScope, jsonText, timestamp, type InstallationScope } from "./values.js";

/** Alerts about a build. */
export const BUILD_ALERT_KINDS = ["broken", "still_failing", "fixed", "test"] as const;
/** Alerts about a runner label set's queue time (no build). */
export const QUEUE_ALERT_KINDS = ["queue_slow", "queue_recovered"] as const;
export const ALERT_KINDS = [...BUILD_ALERT_KINDS, ...QUEUE_ALERT_KINDS] as const;
export const ALERT_CHANNELS = ["email", "slack"] as const;
export type AlertChannel = (typeof ALERT_CHANNELS)[number];
export type AlertKindName = (typeof BUILD_ALERT_KINDS)[number];
export type QueueAlertKind = (typeof QUEUE_ALERT_KINDS)[number];

export interface NewAlert {
  buildId: number | null;
  runAttempt: number | null;
  kind: AlertKindName | QueueAlertKind;
  channel: AlertChannel;
  target: string[];
  status: "pending" | "sent" | "failed" | "skipped";
  lastError?: string | null;
  details?: Record<string, unknown>;
  parentAlertId?: number | null;
  nextAttemptAt?: Date | null;
  attempts?: number;
}

/**
 * Writes one alert row. A row for the same run, attempt, kind and channel is never written
 * twice, so a redelivered webhook cannot alert again.
 * @returns the new row's id, or null when it existed already.
 */
export async function insertAlert(connection: CommonQueryMethods, alert: NewAlert): Promise<number | null> {
  return connection.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO alerts (
      build_id, run_attempt, kind, channel, target, status, last_error, details, parent_alert_id,
      next_attempt_at, attempts, sent_at
    ) VALUES (
      ${alert.buildId}, ${alert.runAttempt}, ${alert.kind}, ${alert.channel}, ${sql.array(alert.target, "text")},
      ${alert.status}, ${alert.lastError ?? null}, ${jsonText(alert.details ?? {})}::jsonb, ${alert.parentAlertId ?? null},
      coalesce(${timestamp(alert.nextAttemptAt ?? null)}, now()), ${alert.attempts ?? 0},
      ${alert.status === "sent" ? sql.fragment`now()` : null}
    )
    ON CONFLICT (build_id, run_attempt, kind, channel) WHERE build_id IS NOT NULL DO NOTHING
    RETURNING id`);
}

const dueAlert = z.object({
  id: z.number(),
  build_id: z.number().nullable(),
  kind: z.enum(ALERT_KINDS),
  channel: z.enum(ALERT_CHANNELS),
  target: z.array(z.string()),
  attempts: z.number(),
  details: z.record(z.string(), z.unknown()),
  parent_alert_id: z.number().nullable(),
  parent_status: z.string().nullable(),
  parent_slack_ts: z.string().nullable(),
  parent_slack_channel_id: z.string().nullable(),
  created_at: z.date(),
  run_finished_at: z.date().nullable(),
});
export type DueAlert = z.infer<typeof dueAlert>;

/** The alerts outbox: claims return the row's id (see db/outbox.ts). */
export const ALERTS_OUTBOX = { table: "alerts", key: z.object({ id: z.number() }), doneStatus: "sent" } as const;

/** What a worker needs to send an alert it claimed, with the message it replies to. */
export async function getAlertToSend(connection: CommonQueryMethods, id: number): Promise<DueAlert | null> {
  return connection.maybeOne(sql.type(dueAlert)`
    SELECT a.id, a.build_id, a.kind, a.channel, a.target, a.attempts, a.details, a.parent_alert_id,
           p.status AS parent_status, p.slack_ts AS parent_slack_ts, p.slack_channel_id AS parent_slack_channel_id,
           a.created_at, b.finished_at AS run_finished_at
    FROM alerts a LEFT JOIN alerts p ON p.id = a.parent_alert_id LEFT JOIN builds b ON b.id = a.build_id
    WHERE a.id = ${id}`);
}

/**
 * The channel id Slack answered for the last alert sent to `target` (a `#name` or an id), which
 * reading a channel's history needs. The newest answer wins: a name can move to another channel.
 */
export async function findSlackChannelId(connection: CommonQueryMethods, target: string): Promise<string | null> {
  return connection.maybeOneFirst(sql.type(z.object({ slack_channel_id: z.string() }))`
    SELECT slack_channel_id FROM alerts
    WHERE channel = 'slack' AND target[1] = ${target} AND slack_channel_id IS NOT NULL
    ORDER BY id DESC LIMIT 1`);
}

/**
 * The `details` key of a note on how an alert was sent (sending records clear `last_error`):
 * the history shows it where an error would be.
 */
export const DELIVERY_NOTE = "delivery_note";

export const alertHistorySchema = z.object({
  id: z.number(),
  kind: z.enum(ALERT_KINDS),
  channel: z.enum(ALERT_CHANNELS),
  target: z.array(z.string()),
  status: z.string(),
  attempts: z.number(),
  last_error: z.string().nullable(),
  build_id: z.number().nullable(),
  repository: z.string().nullable(),
  workflow: z.string().nullable(),
  branch: z.string().nullable(),
  created_at: z.date(),
  sent_at: z.date().nullable(),
  next_attempt_at: z.date(),
});
export type AlertHistoryRow = z.infer<typeof alertHistorySchema>;

/** The alert history, newest first. */
export async function listAlerts(
  connection: CommonQueryMethods,
  page: { limit: number; offset: number; installations?: InstallationScope },
): Promise<{ alerts: AlertHistoryRow[]; total: number }> {
  const visible = inScope(sql.fragment`b.installation_id`, page.installations);
  const [alerts, total] = await Promise.all([
    connection.any(sql.type(alertHistorySchema)`
      SELECT a.id, a.kind, a.channel, a.target, a.status, a.attempts,
             coalesce(a.last_error, a.details->>${sql.literalValue(DELIVERY_NOTE)}) AS last_error, a.build_id,
             b.repository, b.workflow, b.branch, a.created_at, a.sent_at, a.next_attempt_at
      FROM alerts a LEFT JOIN builds b ON b.id = a.build_id
      WHERE ${visible}
      ORDER BY a.created_at DESC, a.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`),
    connection.oneFirst(sql.type(z.object({ total: z.number() }))`
      SELECT count(*)::int AS total FROM alerts a LEFT JOIN builds b ON b.id = a.build_id WHERE ${visible}`),
  ]);
  return { alerts: [...alerts], total };
}

/** Alerts waiting to be sent, for operations. */
export async function countPendingAlerts(connection: CommonQueryMethods): Promise<number> {
  return connection.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM alerts WHERE status = 'pending'`);
}
