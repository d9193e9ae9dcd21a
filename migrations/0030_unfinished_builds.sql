-- The builds that are queued or running, kept beside builds by triggers: the builds list filtered
-- by one of those statuses, and the poller's look for stuck runs, read them here.
--
-- These statuses are rare in a long history (520 of the benchmark's 10,000,000 builds) and
-- scattered through it by the runs whose end was missed, so a list of them walked
-- builds_created_idx through the whole table (4 s at 10,000,000 builds), and its count read every
-- build. An index on builds holding status would answer it, but would cost every status write
-- its HOT update (migrations/0022). This table costs a run one row while it is unfinished: an
-- insert when it is first stored queued or running, an update from queued to running, a delete
-- when it finishes; a finished run's later snapshots touch nothing here.
CREATE TABLE unfinished_builds (
  build_id bigint PRIMARY KEY REFERENCES builds (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('queued', 'running'))
);

CREATE FUNCTION runboard_track_unfinished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('queued', 'running') THEN
    INSERT INTO unfinished_builds (build_id, status) VALUES (NEW.id, NEW.status)
    ON CONFLICT (build_id) DO UPDATE SET status = EXCLUDED.status;
  ELSE
    DELETE FROM unfinished_builds WHERE build_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

-- A trigger runs its function only when the row enters, moves within or leaves the unfinished
-- statuses: a finished run's later writes (and a status write that changes nothing) skip it.
CREATE TRIGGER builds_unfinished_insert AFTER INSERT ON builds
  FOR EACH ROW WHEN (NEW.status IN ('queued', 'running')) EXECUTE FUNCTION runboard_track_unfinished();
CREATE TRIGGER builds_unfinished_update AFTER UPDATE OF status ON builds
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND (OLD.status IN ('queued', 'running') OR NEW.status IN ('queued', 'running')))
  EXECUTE FUNCTION runboard_track_unfinished();

-- The builds stored before. The triggers above already hold their lock on builds, so no write can
-- slip between this read and them (writes wait for this migration's commit: one scan of builds,
-- seconds at 10,000,000).
INSERT INTO unfinished_builds (build_id, status)
SELECT id, status FROM builds WHERE status IN ('queued', 'running');
