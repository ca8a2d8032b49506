-- The tally the result service reads: one row per stored vote value, always equal to
-- SELECT vote, COUNT(id) FROM votes GROUP BY vote, whoever changes `votes`, so that reading
-- it costs the same at ten votes as at ten million.
--
-- How it stays exact without deadlocks:
-- 1. Statement-level triggers on `votes` (with transition tables, so a batch of thousands of
--    rows costs one small GROUP BY, not a trigger call per row) add the statement's per-vote
--    deltas to a transaction-local setting. Settings roll back with the transaction and with
--    savepoints, exactly like the rows they describe.
-- 2. The first change of a transaction also inserts a row into `vote_tally_pending`, whose
--    deferred constraint trigger runs at COMMIT: it applies the accumulated deltas to
--    `vote_tally` in sorted key order and sends NOTIFY votes_changed (delivered on commit).
--    No transaction holds a tally row lock while it waits for anything but other tally rows
--    in the same order, so the tally can never be part of a deadlock cycle.
-- 3. TRUNCATE (no transition tables) marks the transaction for a full recount at commit; it
--    holds an exclusive lock on `votes` until then, so the recount is exact.

-- Take the writers' lock first: rows written between the initial count below and the
-- triggers' creation would otherwise be missed.
LOCK TABLE votes IN SHARE ROW EXCLUSIVE MODE;

-- IF NOT EXISTS and a recount: a tally that something else made before (a hand-made one, an
-- older tool's) is taken over and made exact rather than failing the migration.
CREATE TABLE IF NOT EXISTS vote_tally (
    vote TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
DELETE FROM vote_tally;
INSERT INTO vote_tally (vote, n) SELECT vote, count(id) FROM votes GROUP BY vote;

-- Holds a row only while a transaction that changed `votes` is open; empty otherwise.
CREATE TABLE IF NOT EXISTS vote_tally_pending (
    txid BIGINT NOT NULL DEFAULT txid_current()
);

-- Adds per-vote deltas (a JSON object of vote -> change) to this transaction's pending ones.
CREATE OR REPLACE FUNCTION vote_tally_add(deltas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pending text := coalesce(current_setting('vote_tally.pending', true), '');
BEGIN
    -- Set before registering: with SET CONSTRAINTS ... IMMEDIATE the apply trigger fires at
    -- the end of the INSERT below and must see these deltas.
    PERFORM set_config('vote_tally.pending', (
        SELECT coalesce(jsonb_object_agg(vote, n), '{}'::jsonb)::text
        FROM (
            SELECT vote, sum(n) AS n
            FROM (
                SELECT key AS vote, value::bigint AS n
                FROM jsonb_each_text(coalesce(nullif(pending, ''), '{}')::jsonb)
                UNION ALL
                SELECT key, value::bigint FROM jsonb_each_text(deltas)
            ) AS both_sides
            GROUP BY vote
        ) AS merged
    ), true);
    IF pending = '' THEN
        INSERT INTO vote_tally_pending DEFAULT VALUES;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION votes_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deltas jsonb;
BEGIN
    -- Each branch reads only the transition tables its trigger declares.
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_object_agg(vote, n) INTO deltas
        FROM (SELECT vote, count(*) AS n FROM new_rows GROUP BY vote) AS counted;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_object_agg(vote, n) INTO deltas
        FROM (SELECT vote, -count(*) AS n FROM old_rows GROUP BY vote) AS counted;
    ELSE
        SELECT jsonb_object_agg(vote, n) INTO deltas
        FROM (
            SELECT vote, sum(n) AS n
            FROM (
                SELECT vote, 1 AS n FROM new_rows
                UNION ALL
                SELECT vote, -1 FROM old_rows
            ) AS both_sides
            GROUP BY vote
        ) AS counted;
    END IF;
    -- NULL when the statement touched no row: nothing changed, nothing to notify.
    IF deltas IS NOT NULL THEN
        PERFORM vote_tally_add(deltas);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION votes_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('vote_tally.recount', 'on', true);
    PERFORM vote_tally_add('{}'::jsonb);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION vote_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending jsonb := nullif(coalesce(current_setting('vote_tally.pending', true), ''), '')::jsonb;
BEGIN
    IF coalesce(current_setting('vote_tally.recount', true), '') = 'on' THEN
        DELETE FROM vote_tally;
        INSERT INTO vote_tally (vote, n) SELECT vote, count(id) FROM votes GROUP BY vote;
    ELSIF pending IS NOT NULL THEN
        INSERT INTO vote_tally AS tally (vote, n)
        SELECT key, value::bigint
        FROM jsonb_each_text(pending)
        WHERE value::bigint <> 0
        ORDER BY key COLLATE "C"
        ON CONFLICT (vote) DO UPDATE SET n = tally.n + excluded.n;
        -- The GROUP BY has no row for a value nobody votes for any more.
        DELETE FROM vote_tally
        WHERE n = 0 AND vote IN (SELECT key FROM jsonb_each_text(pending));
    END IF;
    PERFORM set_config('vote_tally.pending', '', true);
    PERFORM set_config('vote_tally.recount', '', true);
    DELETE FROM vote_tally_pending WHERE txid = NEW.txid;
    PERFORM pg_notify('votes_changed', '');
    RETURN NULL;
END $$;

CREATE TRIGGER votes_count_inserts AFTER INSERT ON votes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION votes_count_changes();
CREATE TRIGGER votes_count_updates AFTER UPDATE ON votes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION votes_count_changes();
CREATE TRIGGER votes_count_deletes AFTER DELETE ON votes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION votes_count_changes();
CREATE TRIGGER votes_count_truncate AFTER TRUNCATE ON votes
    FOR EACH STATEMENT EXECUTE FUNCTION votes_truncated();
CREATE CONSTRAINT TRIGGER vote_tally_apply_at_commit AFTER INSERT ON vote_tally_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION vote_tally_apply();
