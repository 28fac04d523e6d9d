-- Ledger schema v3 (tenancy, PostgreSQL): what sql/sqlite/003_tenancy.sql does, in place, since
-- PostgreSQL can relax NOT NULL and add constraints without rebuilding the table.

-- API keys get a role. An operator key belongs to no customer; a customer key to exactly one.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'operator'));
ALTER TABLE api_keys ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE api_keys ADD CHECK ((role = 'customer') = (customer_id IS NOT NULL));

-- How a connection reaches its account: 'oauth', 'api_key' or 'manual' (see the SQLite script).
-- `credential` is always a Fernet token (accounts/_cipher.py), never the secret in clear.
ALTER TABLE oauth_connections ADD COLUMN kind TEXT NOT NULL DEFAULT 'manual'
    CHECK (kind IN ('oauth', 'api_key', 'manual'));
ALTER TABLE oauth_connections ADD COLUMN credential TEXT;
CREATE INDEX oauth_connections_account ON oauth_connections (provider, account);

-- Connect OAuth `state` values handed to the authorize page. Only their hash is kept; each is
-- single-use (used_at) and expires.
CREATE TABLE connect_states (
    state_hash   BYTEA PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    provider     TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);

-- Prices `catalog ensure` made in the operator's account, with their tier.
CREATE TABLE catalog_prices (
    price_id     TEXT PRIMARY KEY,
    tier         TEXT NOT NULL,
    lookup_key   TEXT,
    product_id   TEXT,
    recorded_at  TEXT NOT NULL
);
