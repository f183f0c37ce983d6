-- Saved what-if scenarios: named change sets, kept as the JSON they were
-- posted in and re-evaluated on demand against the facts of the day. They
-- are an analyst's notes, not facts: deleting one removes it for good.

CREATE TABLE scenarios (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    request jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Listing, newest first.
CREATE INDEX scenarios_created ON scenarios (created_at DESC, id DESC);
