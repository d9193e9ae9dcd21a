-- runboard:no-transaction
-- The builds list filtered by branch, workflow, actor or status, newest first: each filter gets
-- an index in the list's own order, so a page (and its `?before=` keyset page) reads only the
-- rows it shows, however rare the value; before, these filters walked builds_created_idx and
-- could read the whole table to find one page of a rare branch. Combined filters use the index
-- of one of them. Four indexes is the price: each one costs every write of a run, which is why
-- no index covers a pair of filters.
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
DROP INDEX CONCURRENTLY IF EXISTS builds_status_created_idx;
CREATE INDEX CONCURRENTLY builds_status_created_idx ON builds (status, created_at DESC NULLS LAST, id DESC);
