-- Ledger schema v3 (tenancy, architecture.md "Tenancy"): operator and customer keys, connections
-- that hold encrypted credentials, single-use Connect OAuth states, and the operator's catalog
-- prices (the only prices that grant a tier).

-- API keys get a role. An operator key belongs to no customer; a customer key to exactly one.
-- SQLite cannot relax NOT NULL in place, so the table is rebuilt (nothing references it).
CREATE TABLE api_keys_v3 (
    key_id       TEXT PRIMARY KEY,
    role         TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'operator')),
    customer_id  TEXT REFERENCES customers (customer_id),
    secret_hash  BLOB NOT NULL,
    name         TEXT,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL))
);
INSERT INTO api_keys_v3 (key_id, role, customer_id, secret_hash, name, created_at, revoked_at)
    SELECT key_id, 'customer', customer_id, secret_hash, name, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v3 RENAME TO api_keys;
CREATE INDEX api_keys_customer ON api_keys (customer_id);

-- How a connection reaches its account: 'oauth' (Stripe Connect: the platform key with
-- Stripe-Account = account; credential = the grant's refresh token), 'api_key' (a key the
-- customer supplied; credential = that key), 'manual' (a record without credential, other providers).
-- `credential` is always a Fernet token (accounts/_cipher.py), never the secret in clear.
ALTER TABLE oauth_connections ADD COLUMN kind TEXT NOT NULL DEFAULT 'manual'
    CHECK (kind IN ('oauth', 'api_key', 'manual'));
ALTER TABLE oauth_connections ADD COLUMN credential TEXT;
CREATE INDEX oauth_connections_account ON oauth_connections (provider, account);

-- Connect OAuth `state` values handed to the authorize page. Only their hash is kept; each is
-- single-use (used_at) and expires.
CREATE TABLE connect_states (
    state_hash   BLOB PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    provider     TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);

-- Prices `catalog ensure` made in the operator's account, with their tier. With the tiers file's
-- price ids and lookup keys, these are the only prices the webhook receiver maps to a tier.
CREATE TABLE catalog_prices (
    price_id     TEXT PRIMARY KEY,
    tier         TEXT NOT NULL,
    lookup_key   TEXT,
    product_id   TEXT,
    recorded_at  TEXT NOT NULL
);
