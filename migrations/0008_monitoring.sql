-- Monitoring: watchlists and the alert rules over them, the events rules
-- raise (an outbox, written in the transaction that moves the rule state
-- that produced them), and signed webhook deliveries of those events.
-- Everything belongs to the API key that created it.

CREATE TABLE watchlists (
    id uuid PRIMARY KEY,
    owner_key bigint NOT NULL REFERENCES api_keys (id),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    buyer text NOT NULL,
    products text[] NOT NULL CHECK (cardinality(products) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX watchlists_owner ON watchlists (owner_key, created_at DESC, id DESC);

-- `condition` is the rule as posted (kind, score, threshold, …), parsed
-- by the service; the columns beside it are what SQL filters on.
CREATE TABLE alert_rules (
    id uuid PRIMARY KEY,
    owner_key bigint NOT NULL REFERENCES api_keys (id),
    watchlist_id uuid NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    condition jsonb NOT NULL,
    quiet_period_seconds integer NOT NULL DEFAULT 0
        CHECK (quiet_period_seconds BETWEEN 0 AND 2592000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX alert_rules_owner ON alert_rules (owner_key, created_at DESC, id DESC);
CREATE INDEX alert_rules_watchlist ON alert_rules (watchlist_id);

-- What each rule last saw of each watched product: the evaluator's memory,
-- so that the replica taking over evaluation goes on where the last one
-- stopped, and an evaluation repeated raises nothing twice.
CREATE TABLE alert_rule_state (
    rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    product text NOT NULL,
    state jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (rule_id, product)
);

-- `seq` is the feed's cursor: events are inserted under a transaction
-- advisory lock, so they commit in `seq` order and a reader that has seen
-- `seq` n never later finds one below it. Events outlive their rules.
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    owner_key bigint NOT NULL REFERENCES api_keys (id),
    type text NOT NULL,
    rule_id uuid,
    -- json, not jsonb: kept as written, so the feed and every delivery
    -- send the same bytes.
    body json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_owner ON events (owner_key, seq);

-- The signing secret is kept in the clear: signing needs it. During a
-- rotation the previous one signs too, until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    owner_key bigint NOT NULL REFERENCES api_keys (id),
    url text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL DEFAULT '{}',
    rule_ids uuid[] NOT NULL DEFAULT '{}',
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    failing_since timestamptz,
    disabled_at timestamptz,
    disabled_reason text
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_key, created_at DESC, id DESC);

-- One event for one endpoint, delivered at least once, in `id` order per
-- endpoint: only the oldest pending delivery of an endpoint is attempted.
CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq bigint NOT NULL REFERENCES events (seq),
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at timestamptz,
    last_status integer,
    last_error text,
    last_latency_ms integer
);
CREATE INDEX deliveries_pending ON deliveries (endpoint_id, id) WHERE state = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id DESC);

CREATE TABLE delivery_attempts (
    delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    status integer,
    error text,
    latency_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
