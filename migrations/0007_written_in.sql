-- The transaction that last wrote each fact (its insert, or the update
-- that retracted it), so a replica can read exactly the facts written since
-- the snapshot it loaded: those whose writer that snapshot could not see.
-- An id alone cannot say this: ids are drawn before commit, so a fact with
-- a smaller id can commit after one with a larger.
ALTER TABLE facts ADD COLUMN written_in xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX facts_written_in ON facts (written_in);

CREATE FUNCTION facts_written_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.written_in := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE TRIGGER facts_written_in BEFORE UPDATE ON facts
    FOR EACH ROW EXECUTE FUNCTION facts_written_in();

-- The data version counts retracted facts: an index of just those keeps
-- the count proportional to the retractions, not the table.
CREATE INDEX facts_retracted ON facts (id) WHERE retracted_at IS NOT NULL;
