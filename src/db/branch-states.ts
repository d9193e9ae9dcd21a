import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BranchState } from "../domain/alert-policy.js";
import { isoText } from "./values.js";

export interface BranchKey {
  repositoryId: number;
  workflowKey: string;
  branch: string;
}

/** One text per branch key: the advisory lock's key (as the write function builds it) and the map key of {@link LockedBranchStates}. */
export function branchKeyText(key: BranchKey): string {
  return `${key.repositoryId}\u0001${key.workflowKey}\u0001${key.branch}`;
}

/** A branch's state as the write function returns it (a row of kind `branch`): null state when never seen. */
export const lockedBranchRow = z.object({
  repository_id: z.number(),
  workflow_key: z.string(),
  branch: z.string(),
  state: z.enum(["passing", "failing"]).nullable(),
  failing_since: z.coerce.date().nullable(),
  failed_runs: z.number().nullable(),
  broken_build_id: z.number().nullable(),
  last_run_number: z.number().nullable(),
});

/**
 * The branches a batch decides, locked for the rest of its transaction by the write function
 * (migrations/0017_branch_states_in_write.sql: a transaction-level advisory lock per branch, taken in
 * one order; the states read after every lock is held), by {@link branchKeyText}. A key maps to
 * null when the branch was locked but has no state yet; a key that is absent was not locked.
 */
export type LockedBranchStates = Map<string, BranchState | null>;

export function lockedBranchStates(rows: Array<z.infer<typeof lockedBranchRow>>): LockedBranchStates {
  const states: LockedBranchStates = new Map();
  for (const row of rows) {
    const key = branchKeyText({ repositoryId: row.repository_id, workflowKey: row.workflow_key, branch: row.branch });
    states.set(
      key,
      row.state === null
        ? null
        : {
            state: row.state,
            failingSince: row.failing_since,
            failedRuns: row.failed_runs ?? 0,
            brokenBuildId: row.broken_build_id,
            lastRunNumber: row.last_run_number,
          },
    );
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
