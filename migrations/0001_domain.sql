-- Sources, products and facts: the sourced record the scores are computed from.
-- Facts are append-only: retraction stamps retracted_at, nothing is deleted,
-- so any past state can be reconstructed with recorded_at / retracted_at.

CREATE TABLE sources (
    id text PRIMARY KEY,
    title text NOT NULL,
    publisher text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('intergovernmental_agency', 'government_statistics',
        'company_disclosure', 'industry_analyst', 'academic', 'news',
        'state_affiliated_media', 'other')),
    url text,
    published_on date,
    accessed_on date,
    notes text,
    reliability double precision NOT NULL CHECK (reliability >= 0 AND reliability <= 1),
    reliability_overridden boolean NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE products (
    id text PRIMARY KEY,
    name text NOT NULL,
    stage text NOT NULL CHECK (stage IN ('mining', 'smelting', 'materials', 'applications')),
    description text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE product_inputs (
    product_id text NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    input_id text NOT NULL REFERENCES products (id),
    share double precision NOT NULL CHECK (share >= 0 AND share <= 1),
    essential boolean NOT NULL,
    PRIMARY KEY (product_id, input_id),
    CHECK (product_id <> input_id)
);
CREATE INDEX product_inputs_input ON product_inputs (input_id);

-- Every version of every product as it was written, so a change to a
-- product's inputs is never silently lost.
CREATE TABLE product_revisions (
    product_id text NOT NULL REFERENCES products (id),
    revision integer NOT NULL,
    body jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (product_id, revision)
);

CREATE TABLE facts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id text REFERENCES products (id),
    country text CHECK (country ~ '^[A-Z]{2}$'),
    buyer text CHECK (buyer ~ '^[A-Z]{2}$'),
    facility text,
    metric text NOT NULL,
    value double precision CHECK (value IS NULL OR (value <> 'NaN' AND value > '-Infinity' AND value < 'Infinity')),
    unit text NOT NULL,
    period_start date NOT NULL,
    period_end date CHECK (period_end IS NULL OR period_end >= period_start),
    status text NOT NULL,
    controlled_by text CHECK (controlled_by ~ '^[A-Z]{2}$'),
    expected_online integer,
    source_id text NOT NULL REFERENCES sources (id),
    confidence double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    quote text,
    locator text,
    note text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    retracted_at timestamptz,
    retraction_reason text,
    CHECK ((retracted_at IS NULL) = (retraction_reason IS NULL))
);
CREATE INDEX facts_product_metric ON facts (product_id, metric);
CREATE INDEX facts_source ON facts (source_id);

-- Stripe-style idempotency: the first response to a key is stored in the
-- same transaction as the write it reports, and replayed for repeats.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash bytea NOT NULL,
    status smallint NOT NULL,
    content_type text NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
