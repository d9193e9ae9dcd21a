-- runboard:no-transaction
-- One workflow's runs in a window, newest first: the workflow page's flaky runs and the builds
-- list filtered by repository and workflow. Before, both walked builds_repository_created_idx and
-- read every run of the repository in the window to keep one workflow's (at 10,000,000 builds,
-- about 16,000 heap pages for a 30-day window against about 3,300 with this index).
--
-- repository, workflow and created_at do not change when a run's status does, so status writes
-- stay HOT updates; the index costs one entry per new run.
--
-- Built CONCURRENTLY so a large table keeps taking writes while it builds; this file runs outside
-- a transaction. The index is dropped first: a build that failed half-way leaves an invalid index
-- behind, and this file runs again from the top.
DROP INDEX CONCURRENTLY IF EXISTS builds_repository_workflow_created_idx;
CREATE INDEX CONCURRENTLY builds_repository_workflow_created_idx ON builds (repository, workflow, created_at DESC NULLS LAST, id DESC);
