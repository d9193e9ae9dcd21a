import type { BuildRecord, JobRecord } from "./normalize.js";

/**
 * Whether run snapshot `a` would replace `b`: the rule the builds upsert applies in SQL, used to
 * pick one snapshot per run before a batch reaches the database. The migration cannot import
 * this, so test/domain/rules-in-sql.test.ts holds the two to the same answers.
 */
export function isNewerRun(a: BuildRecord, b: BuildRecord): boolean {
  if (a.runAttempt !== b.runAttempt) return a.runAttempt > b.runAttempt;
  if (a.statusRank !== b.statusRank) return a.statusRank > b.statusRank;
  return (a.updatedAt?.getTime() ?? -Infinity) > (b.updatedAt?.getTime() ?? -Infinity);
}

/** Whether job snapshot `a` would replace `b` (the job upsert's rule). */
export function isNewerJob(a: JobRecord, b: JobRecord): boolean {
  if (a.statusRank !== b.statusRank) return a.statusRank > b.statusRank;
  return a.progress > b.progress;
}
