-- runboard:no-transaction
-- The builds list filtered by branch, workflow or actor, newest first: each of these filters gets
-- an index in the list's own order, so a page (and its `?before=` keyset page) reads only the
-- rows it shows, however rare the value; before, these filters walked builds_created_idx and
-- could read the whole table to find one page of a rare branch. Combined filters use the index
-- of one of them. Each index costs every write of a run that is not a HOT update, so there are
-- three, and none covers a pair of filters.
--
-- Status has none on purpose: it changes on nearly every write of a run (queued, running,
-- finished), and an index that holds it (even only in a partial index's WHERE) makes each of
-- those writes update every index of builds instead of none; ingest fell from 0.88 to 0.66 of its
-- raw limit with one. A status filter walks builds_created_idx: cheap for common statuses and
-- for queued and running (the newest builds), and with another filter it uses that one's index.
--
-- Built CONCURRENTLY so a large table keeps taking writes while they build (minutes at tens of
-- millions of rows); this file runs outside a transaction. Each index is dropped first: a build
-- that failed half-way leaves an invalid index behind, and this file runs again from the top.
DROP INDEX CONCURRENTLY IF EXISTS builds_branch_created_idx;
CREATE INDEX CONCURRENTLY builds_branch_created_idx ON builds (branch, created_at DESC NULLS LAST, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS builds_workflow_created_idx;
CREATE INDEX CONCURRENTLY builds_workflow_created_idx ON builds (workflow, created_at DESC NULLS LAST, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS builds_actor_created_idx;
CREATE INDEX CONCURRENTLY builds_actor_created_idx ON builds (triggered_by, created_at DESC NULLS LAST, id DESC);
