import { sql, type DatabasePool } from "slonik";
import { DEFAULT_ALERT_RULES } from "../domain/alert-rules.js";
import { getAlertRules, saveAlertRules } from "./alert-settings.js";

/**
 * Mutes one workflow of one repository until `until`, in the shared alert rules: expired mutes
 * are dropped, and a mute of the same workflow is replaced rather than repeated. The settings
 * row is locked so two presses at once both land.
 */
export async function addWorkflowMute(
  pool: DatabasePool,
  mute: { repository: string; workflow: string; until: Date },
  now: Date,
): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`
      INSERT INTO alert_settings (id, rules) VALUES (1, ${JSON.stringify(DEFAULT_ALERT_RULES)}::jsonb)
      ON CONFLICT (id) DO NOTHING`);
    await tx.query(sql.unsafe`SELECT 1 FROM alert_settings WHERE id = 1 FOR UPDATE`);
    const rules = await getAlertRules(tx);
    const kept = rules.mutes.filter(
      (m) =>
        new Date(m.until) > now &&
        !(m.repository === mute.repository && m.workflow === mute.workflow && m.branch === undefined),
    );
    kept.push({ repository: mute.repository, workflow: mute.workflow, until: mute.until.toISOString() });
    await saveAlertRules(tx, { ...rules, mutes: kept.slice(-500) });
  });
}
