/** A branch of one workflow, whose alert state is kept in `branch_states`. */
export interface BranchKey {
  repositoryId: number;
  workflowKey: string;
  branch: string;
}

/**
 * The key of the transaction-level advisory lock the write function takes on a branch before it
 * decides the branch's alert (runboard_queue_alerts in migrations/0020_alerts_in_write.sql builds
 * the same text): another session holding it holds that branch's decisions.
 */
export function branchKeyText(key: BranchKey): string {
  return `${key.repositoryId}\u0001${key.workflowKey}\u0001${key.branch}`;
}
