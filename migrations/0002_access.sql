-- API keys and the audit trail of every write.

-- Keys are random secrets shown once; only their SHA-256 is stored, found
-- by a short public prefix. Revocation stamps revoked_at (kept for audit).
CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    prefix text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'ingest', 'admin'] AND cardinality(scopes) > 0),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by bigint REFERENCES api_keys (id),
    revoked_at timestamptz
);

-- One row per committed write, written in the write's own transaction.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id bigint REFERENCES api_keys (id),
    method text NOT NULL,
    route text NOT NULL,
    object_ids jsonb NOT NULL,
    request_id text
);
CREATE INDEX audit_log_key ON audit_log (key_id, id);
CREATE INDEX audit_log_at ON audit_log (at);
