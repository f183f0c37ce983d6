-- When each fact's information became public, and when its retraction did:
-- the `public` view of the past reads these, not when this database
-- recorded them. Existing facts take their source's publication date, else
-- the day they were recorded; existing retractions the day they were made.
ALTER TABLE facts
    ADD COLUMN published_on date,
    ADD COLUMN retraction_published_on date;

-- Never later than the fact was recorded or retracted (it was public by
-- then at the latest), never before 1900.
UPDATE facts f
SET published_on = GREATEST(DATE '1900-01-01', LEAST(
        COALESCE(s.published_on, (f.recorded_at AT TIME ZONE 'UTC')::date),
        (f.recorded_at AT TIME ZONE 'UTC')::date,
        COALESCE((f.retracted_at AT TIME ZONE 'UTC')::date, 'infinity'::date)))
FROM sources s
WHERE s.id = f.source_id;

UPDATE facts
SET retraction_published_on = (retracted_at AT TIME ZONE 'UTC')::date
WHERE retracted_at IS NOT NULL;

-- The service always states it; a row written around it (a bulk \copy)
-- was published, at the latest, the day it is recorded.
ALTER TABLE facts
    ALTER COLUMN published_on SET NOT NULL,
    ALTER COLUMN published_on SET DEFAULT ((now() AT TIME ZONE 'UTC')::date),
    ADD CONSTRAINT facts_published_on_range CHECK (published_on >= DATE '1900-01-01'),
    ADD CONSTRAINT facts_retraction_published CHECK ((retracted_at IS NULL) = (retraction_published_on IS NULL)),
    ADD CONSTRAINT facts_retraction_after_publication CHECK (retraction_published_on IS NULL OR retraction_published_on >= published_on);
