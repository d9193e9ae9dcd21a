import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BranchState } from "../domain/alert-policy.js";
import { timestamp } from "./values.js";

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

/**
 * Reads one branch's state, holding a transaction-level lock on the key so that two runs of
 * the same branch finishing at once are decided one after the other. Call inside a transaction.
 */
export async function lockBranchState(tx: CommonQueryMethods, key: BranchKey): Promise<BranchState | null> {
  await tx.query(sql.unsafe`
    SELECT pg_advisory_xact_lock(hashtextextended(${`${key.repositoryId}\u0001${key.workflowKey}\u0001${key.branch}`}, 0))`);
  const row = await tx.maybeOne(sql.type(stateRow)`
    SELECT state, failing_since, failed_runs, broken_build_id, last_run_number
    FROM branch_states
    WHERE repository_id = ${key.repositoryId} AND workflow_key = ${key.workflowKey} AND branch = ${key.branch}`);
  return row
    ? {
        state: row.state,
        failingSince: row.failing_since,
        failedRuns: row.failed_runs,
        brokenBuildId: row.broken_build_id,
        lastRunNumber: row.last_run_number,
      }
    : null;
}

export async function saveBranchState(tx: CommonQueryMethods, key: BranchKey, state: BranchState, lastBuildId: number): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO branch_states (
      repository_id, workflow_key, branch, state, failing_since, failed_runs, broken_build_id, last_build_id, last_run_number
    ) VALUES (
      ${key.repositoryId}, ${key.workflowKey}, ${key.branch}, ${state.state}, ${timestamp(state.failingSince)},
      ${state.failedRuns}, ${state.brokenBuildId}, ${lastBuildId}, ${state.lastRunNumber}
    )
    ON CONFLICT (repository_id, workflow_key, branch) DO UPDATE SET
      state = EXCLUDED.state,
      failing_since = EXCLUDED.failing_since,
      failed_runs = EXCLUDED.failed_runs,
      broken_build_id = EXCLUDED.broken_build_id,
      last_build_id = EXCLUDED.last_build_id,
      last_run_number = EXCLUDED.last_run_number,
      updated_at = now()`);
}
