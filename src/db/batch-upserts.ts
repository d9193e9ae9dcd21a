import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { BuildRecord, JobRecord } from "../domain/normalize.js";
import { BUILD_CHANGED_CHANNEL, changedRow, type ChangedBuild } from "./builds.js";
import type { Delivery } from "./deliveries.js";
import { jsonText, text } from "./values.js";

// The many-rows forms of the upserts in builds.ts and build-jobs.ts: the same rules, one
// statement for a whole batch, so a busy webhook endpoint pays for planning and round trips
// once per batch instead of once per event. Rows are sorted by key so that two replicas'
// batches lock rows in the same order.

const iso = (value: Date | null) => (value ? value.toISOString() : null);

/** Records deliveries; returns the ids recorded now (one seen before is left out). */
export async function recordDeliveries(tx: CommonQueryMethods, deliveries: Delivery[]): Promise<Set<string>> {
  if (deliveries.length === 0) return new Set();
  const ids = await tx.anyFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO deliveries (id, event, action)
    SELECT * FROM unnest(${sql.array(deliveries.map((d) => d.id), "text")}, ${sql.array(deliveries.map((d) => d.event), "text")},
                         ${sql.array(deliveries.map((d) => d.action), "text")})
    ON CONFLICT (id) DO NOTHING
    RETURNING id`);
  return new Set(ids);
}

/** Upserts runs (at most one per key: merge first) and notifies; returns the rows that changed. */
export async function upsertBuilds(tx: CommonQueryMethods, builds: BuildRecord[]): Promise<ChangedBuild[]> {
  if (builds.length === 0) return [];
  const rows = [...builds].sort((a, b) => a.repositoryId - b.repositoryId || a.externalId - b.externalId);
  const col = <T>(pick: (b: BuildRecord) => T) => rows.map(pick);
  const changed = await tx.any(sql.type(changedRow.extend({ notified: z.unknown() }))`
    WITH changed AS (
      INSERT INTO builds (
        provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
        workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
        commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload
      )
      SELECT provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
             workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
             commit_message, triggered_by, event, url, created_at::timestamptz, updated_at::timestamptz,
             started_at::timestamptz, finished_at::timestamptz, payload::jsonb
      FROM unnest(
        ${sql.array(col((b) => b.providerId), "int2")}, ${sql.array(col((b) => b.installationId), "int8")},
        ${sql.array(col((b) => b.repositoryId), "int8")}, ${sql.array(col((b) => text(b.repository)), "text")},
        ${sql.array(col((b) => b.externalId), "int8")}, ${sql.array(col((b) => b.runAttempt), "int4")},
        ${sql.array(col((b) => b.runNumber), "int4")}, ${sql.array(col((b) => b.workflowId), "int8")},
        ${sql.array(col((b) => text(b.workflow)), "text")}, ${sql.array(col((b) => b.status), "text")},
        ${sql.array(col((b) => b.statusRank), "int2")}, ${sql.array(col((b) => text(b.rawStatus)), "text")},
        ${sql.array(col((b) => text(b.conclusion)), "text")}, ${sql.array(col((b) => text(b.branch)), "text")},
        ${sql.array(col((b) => text(b.commitSha)), "text")}, ${sql.array(col((b) => text(b.commitMessage)), "text")},
        ${sql.array(col((b) => text(b.triggeredBy)), "text")}, ${sql.array(col((b) => text(b.event)), "text")},
        ${sql.array(col((b) => text(b.url)), "text")}, ${sql.array(col((b) => iso(b.createdAt)), "text")},
        ${sql.array(col((b) => iso(b.updatedAt)), "text")}, ${sql.array(col((b) => iso(b.startedAt)), "text")},
        ${sql.array(col((b) => iso(b.finishedAt)), "text")}, ${sql.array(col((b) => jsonText(b.payload)), "text")}
      ) AS t(provider_id, installation_id, repository_id, repository, external_id, run_attempt, run_number,
             workflow_id, workflow, status, status_rank, raw_status, conclusion, branch, commit_sha,
             commit_message, triggered_by, event, url, created_at, updated_at, started_at, finished_at, payload)
      ON CONFLICT ON CONSTRAINT builds_natural_key DO UPDATE SET
        installation_id = coalesce(EXCLUDED.installation_id, builds.installation_id),
        repository = EXCLUDED.repository, run_attempt = EXCLUDED.run_attempt, run_number = EXCLUDED.run_number,
        workflow_id = EXCLUDED.workflow_id, workflow = EXCLUDED.workflow, status = EXCLUDED.status,
        status_rank = EXCLUDED.status_rank, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
        branch = EXCLUDED.branch, commit_sha = EXCLUDED.commit_sha, commit_message = EXCLUDED.commit_message,
        triggered_by = EXCLUDED.triggered_by, event = EXCLUDED.event, url = EXCLUDED.url,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, started_at = EXCLUDED.started_at,
        finished_at = EXCLUDED.finished_at, payload = EXCLUDED.payload, changed_at = now()
      WHERE EXCLUDED.run_attempt > builds.run_attempt
         OR (EXCLUDED.run_attempt = builds.run_attempt AND (
              EXCLUDED.status_rank > builds.status_rank
           OR (EXCLUDED.status_rank = builds.status_rank
               AND (builds.updated_at IS NULL OR EXCLUDED.updated_at > builds.updated_at))
           OR (builds.payload IS NULL AND EXCLUDED.status_rank >= builds.status_rank)))
      RETURNING id, external_id, (xmax = 0) AS inserted, status, run_attempt, run_number, repository_id, repository, workflow_id,
        workflow, branch, finished_at, installation_id, commit_sha
    )
    SELECT c.*, pg_notify(${BUILD_CHANGED_CHANNEL}, c.id::text) AS notified FROM changed c`);
  return changed.map(({ notified: _notified, ...row }) => row);
}

/** Creates the run rows that jobs point to, where none exists yet (see ensureBuildForJob). */
export async function ensureBuildsForJobs(tx: CommonQueryMethods, jobs: JobRecord[]): Promise<void> {
  if (jobs.length === 0) return;
  const rows = [...jobs].sort((a, b) => a.repositoryId - b.repositoryId || a.runId - b.runId);
  const col = <T>(pick: (j: JobRecord) => T) => rows.map(pick);
  await tx.query(sql.unsafe`
    INSERT INTO builds (
      provider_id, installation_id, repository_id, repository, external_id, run_attempt,
      workflow, status, status_rank, branch, commit_sha, created_at
    )
    SELECT provider_id, installation_id, repository_id, repository, external_id, run_attempt,
           workflow, 'queued', 1, branch, commit_sha, created_at::timestamptz
    FROM unnest(
      ${sql.array(col((j) => j.providerId), "int2")}, ${sql.array(col((j) => j.installationId), "int8")},
      ${sql.array(col((j) => j.repositoryId), "int8")}, ${sql.array(col((j) => text(j.repository)), "text")},
      ${sql.array(col((j) => j.runId), "int8")}, ${sql.array(col((j) => j.runAttempt), "int4")},
      ${sql.array(col((j) => text(j.workflow)), "text")}, ${sql.array(col((j) => text(j.branch)), "text")},
      ${sql.array(col((j) => text(j.commitSha)), "text")}, ${sql.array(col((j) => iso(j.queuedAt)), "text")}
    ) AS t(provider_id, installation_id, repository_id, repository, external_id, run_attempt, workflow, branch, commit_sha, created_at)
    ON CONFLICT ON CONSTRAINT builds_natural_key DO NOTHING`);
}

/** Upserts jobs (at most one per id: merge first) and notifies; returns the jobs that changed. */
export async function upsertJobs(tx: CommonQueryMethods, jobs: JobRecord[]): Promise<Array<{ id: number; build_id: number }>> {
  if (jobs.length === 0) return [];
  const rows = [...jobs].sort((a, b) => a.id - b.id);
  const col = <T>(pick: (j: JobRecord) => T) => rows.map(pick);
  const changed = await tx.any(sql.type(z.object({ id: z.number(), build_id: z.number(), notified: z.unknown() }))`
    WITH changed AS (
      INSERT INTO build_jobs (
        id, build_id, run_attempt, name, status, status_rank, progress, raw_status, conclusion,
        runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
        completed_at, payload
      )
      SELECT t.id, b.id, t.run_attempt, t.name, t.status, t.status_rank, t.progress, t.raw_status, t.conclusion,
             t.runner_labels::text[], t.runner_name, t.runner_group, t.steps::jsonb, t.failed_step, t.url,
             t.queued_at::timestamptz, t.started_at::timestamptz, t.completed_at::timestamptz, t.payload::jsonb
      FROM unnest(
        ${sql.array(col((j) => j.id), "int8")}, ${sql.array(col((j) => j.providerId), "int2")},
        ${sql.array(col((j) => j.repositoryId), "int8")}, ${sql.array(col((j) => j.runId), "int8")},
        ${sql.array(col((j) => j.runAttempt), "int4")}, ${sql.array(col((j) => text(j.name)), "text")},
        ${sql.array(col((j) => j.status), "text")}, ${sql.array(col((j) => j.statusRank), "int2")},
        ${sql.array(col((j) => j.progress), "int2")}, ${sql.array(col((j) => text(j.rawStatus)), "text")},
        ${sql.array(col((j) => text(j.conclusion)), "text")},
        ${sql.array(col((j) => JSON.stringify(j.runnerLabels.map((l) => text(l) ?? "")).replace(/^\[/, "{").replace(/\]$/, "}")), "text")},
        ${sql.array(col((j) => text(j.runnerName)), "text")}, ${sql.array(col((j) => text(j.runnerGroup)), "text")},
        ${sql.array(col((j) => jsonText(j.steps)), "text")}, ${sql.array(col((j) => text(j.failedStep)), "text")},
        ${sql.array(col((j) => text(j.url)), "text")}, ${sql.array(col((j) => iso(j.queuedAt)), "text")},
        ${sql.array(col((j) => iso(j.startedAt)), "text")}, ${sql.array(col((j) => iso(j.completedAt)), "text")},
        ${sql.array(col((j) => jsonText(j.payload)), "text")}
      ) AS t(id, provider_id, repository_id, run_id, run_attempt, name, status, status_rank, progress, raw_status,
             conclusion, runner_labels, runner_name, runner_group, steps, failed_step, url, queued_at, started_at,
             completed_at, payload)
      JOIN builds b ON b.provider_id = t.provider_id AND b.repository_id = t.repository_id AND b.external_id = t.run_id
      ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, status = EXCLUDED.status, status_rank = EXCLUDED.status_rank,
        progress = EXCLUDED.progress, raw_status = EXCLUDED.raw_status, conclusion = EXCLUDED.conclusion,
        runner_labels = EXCLUDED.runner_labels, runner_name = EXCLUDED.runner_name,
        runner_group = EXCLUDED.runner_group, steps = EXCLUDED.steps, failed_step = EXCLUDED.failed_step,
        url = EXCLUDED.url, queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at,
        completed_at = EXCLUDED.completed_at, payload = EXCLUDED.payload, changed_at = now()
      WHERE EXCLUDED.status_rank > build_jobs.status_rank
         OR (EXCLUDED.status_rank = build_jobs.status_rank AND EXCLUDED.progress > build_jobs.progress)
      RETURNING id, build_id
    )
    SELECT c.id, c.build_id, pg_notify(${BUILD_CHANGED_CHANNEL}, c.build_id::text) AS notified FROM changed c`);
  return changed.map(({ id, build_id }) => ({ id, build_id }));
}
