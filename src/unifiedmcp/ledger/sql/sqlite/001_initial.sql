-- Ledger schema v1: customers, API keys, metered usage, monthly counters, OAuth connections.
-- Times are ISO-8601 UTC text ("2026-11-26T20:01:50.123456Z"), months "YYYY-MM".

CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,           -- the Stripe customer id
    email       TEXT,
    tier        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Only a hash of each key's secret is stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY,          -- the public part, e.g. umk_1a2b3c4d5e6f
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    secret_hash  BLOB NOT NULL,             -- sha256 of the secret part
    name         TEXT,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_keys_customer ON api_keys (customer_id);

-- One row per metered call. `seq` is the export/pull watermark; `event_id` makes retries idempotent.
CREATE TABLE usage_events (
    seq          INTEGER PRIMARY KEY,       -- rows are never deleted, so rowids only grow
    event_id     TEXT NOT NULL UNIQUE,
    customer_id  TEXT NOT NULL,
    tool_name    TEXT NOT NULL,
    ts           TEXT NOT NULL,
    month        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'error', 'rejected')),
    latency_ms   REAL,
    user_id      TEXT
);
-- No index on month: the hot path must write as few pages as possible; exports scan by seq.

-- The quota check reads one row here instead of counting the month's events.
CREATE TABLE usage_counters (
    customer_id  TEXT NOT NULL,
    month        TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,   -- admitted calls (status ok or error)
    rejected     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, month)
) WITHOUT ROWID;

CREATE TABLE oauth_connections (
    connection_id TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (customer_id),
    provider      TEXT NOT NULL,
    account       TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    UNIQUE (customer_id, provider, account)
);
