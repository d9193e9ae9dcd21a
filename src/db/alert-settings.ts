import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { alertRulesSchema, DEFAULT_ALERT_RULES, type AlertRules } from "../domain/alert-rules.js";
import { jsonText } from "./values.js";

/** The routing rules, or the defaults when none were set. */
export async function getAlertRules(connection: CommonQueryMethods): Promise<AlertRules> {
  const rules = await connection.maybeOneFirst(sql.type(z.object({ rules: z.unknown() }))`
    SELECT rules FROM alert_settings WHERE id = 1`);
  if (rules == null) {
    return DEFAULT_ALERT_RULES;
  }
  // Stored rules were validated on the way in; parsing again fills defaults added since.
  return alertRulesSchema.parse(rules);
}

export async function saveAlertRules(connection: CommonQueryMethods, rules: AlertRules): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO alert_settings (id, rules) VALUES (1, ${jsonText(rules)}::jsonb)
    ON CONFLICT (id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`);
}
