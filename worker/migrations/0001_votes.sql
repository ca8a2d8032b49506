-- The original voting app's table, so that its worker and its result service keep working on
-- it, plus the time of each vote for "last write wins" (SPEC sections 2 and 4). The original's
-- rows, and rows another writer inserts without a ts, count as written at time 0.
CREATE TABLE IF NOT EXISTS votes (
    id VARCHAR(255) NOT NULL UNIQUE,
    vote VARCHAR(255) NOT NULL
);
ALTER TABLE votes ADD COLUMN IF NOT EXISTS ts BIGINT NOT NULL DEFAULT 0;
-- Re-votes update rows in place: free room in each page lets PostgreSQL write the new version
-- beside the old one without touching the index on id (a "HOT" update), which makes the
-- worker's upserts of re-votes several times cheaper. Affects pages written from now on.
ALTER TABLE votes SET (fillfactor = 50);
