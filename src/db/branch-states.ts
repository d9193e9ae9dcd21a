import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BranchState } from "../domain/alert-policy.js";
import { isoText } from "./values.js";

export interface BranchKey {
  repositoryId: number;
  workflowKey: string;
  branch: string;
}

const stateRow = z.object({
  state: z.enum(["passing", "failing"]),
  failing_since: z.date().nullable(),
  failed_runs: z.number(),
  broken_build_id: z.number().nullable(),
  last_run_number: z.number().nullable(),
});

/** One text per branch key: the advisory lock's key and the map key of {@link lockBranchStates}. */
export function branchKeyText(key: BranchKey): string {
  return `${key.repositoryId}\u0001${key.workflowKey}\u0001${key.branch}`;
}

/**
 * Reads the states of branches, holding a transaction-level lock on each key so that two runs
 * of the same branch finishing at once are decided one after the other. The locks are taken in
 * key order, in one statement, so two transactions locking overlapping keys cannot deadlock; the
 * states are read by a second statement, whose snapshot comes after every lock is held. Call
 * inside a transaction.
 * @returns each stored state by {@link branchKeyText}; a branch never seen has none.
 */
export async function lockBranchStates(tx: CommonQueryMethods, keys: BranchKey[]): Promise<Map<string, BranchState>> {
  const unique = [...new Map(keys.map((key) => [branchKeyText(key), key])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const states = new Map<string, BranchState>();
  if (unique.length === 0) return states;
  await tx.query(sql.unsafe`
    SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${sql.array(unique.map(([text]) => text), "text")}) AS k`);
  const rows = await tx.any(sql.type(stateRow.extend({ repository_id: z.number(), workflow_key: z.string(), branch: z.string() }))`
    SELECT s.repository_id, s.workflow_key, s.branch, s.state, s.failing_since, s.failed_runs, s.broken_build_id, s.last_run_number
    FROM branch_states s
    JOIN unnest(
      ${sql.array(unique.map(([, key]) => key.repositoryId), "int8")},
      ${sql.array(unique.map(([, key]) => key.workflowKey), "text")},
      ${sql.array(unique.map(([, key]) => key.branch), "text")}
    ) AS k(repository_id, workflow_key, branch) USING (repository_id, workflow_key, branch)`);
  for (const row of rows) {
    states.set(branchKeyText({ repositoryId: row.repository_id, workflowKey: row.workflow_key, branch: row.branch }), {
      state: row.state,
      failingSince: row.failing_since,
      failedRuns: row.failed_runs,
      brokenBuildId: row.broken_build_id,
      lastRunNumber: row.last_run_number,
    });
  }
  return states;
}

/** Writes the new state of branches (each key at most once), in one statement. */
export async function saveBranchStates(
  tx: CommonQueryMethods,
  entries: Array<{ key: BranchKey; state: BranchState; lastBuildId: number }>,
): Promise<void> {
  if (entries.length === 0) return;
  const rows = [...entries].sort((a, b) => (branchKeyText(a.key) < branchKeyText(b.key) ? -1 : 1));
  const col = <T>(pick: (entry: (typeof rows)[number]) => T) => rows.map(pick);
  await tx.query(sql.unsafe`
    INSERT INTO branch_states (
      repository_id, workflow_key, branch, state, failing_since, failed_runs, broken_build_id, last_build_id, last_run_number
    )
    SELECT repository_id, workflow_key, branch, state, failing_since::timestamptz, failed_runs, broken_build_id, last_build_id, last_run_number
    FROM unnest(
      ${sql.array(col((e) => e.key.repositoryId), "int8")}, ${sql.array(col((e) => e.key.workflowKey), "text")},
      ${sql.array(col((e) => e.key.branch), "text")}, ${sql.array(col((e) => e.state.state), "text")},
      ${sql.array(col((e) => isoText(e.state.failingSince)), "text")}, ${sql.array(col((e) => e.state.failedRuns), "int4")},
      ${sql.array(col((e) => e.state.brokenBuildId), "int8")}, ${sql.array(col((e) => e.lastBuildId), "int8")},
      ${sql.array(col((e) => e.state.lastRunNumber), "int4")}
    ) AS t(repository_id, workflow_key, branch, state, failing_since, failed_runs, broken_build_id, last_build_id, last_run_number)
    ON CONFLICT (repository_id, workflow_key, branch) DO UPDATE SET
      state = EXCLUDED.state,
      failing_since = EXCLUDED.failing_since,
      failed_runs = EXCLUDED.failed_runs,
      broken_build_id = EXCLUDED.broken_build_id,
      last_build_id = EXCLUDED.last_build_id,
      last_run_number = EXCLUDED.last_run_number,
      updated_at = now()`);
}
