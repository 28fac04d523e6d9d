-- Ledger schema v6 (issue 18): the OAuth 2.1 authorization server of `unifiedmcp serve`.
-- Portable SQL (one script for SQLite and PostgreSQL): hashes are hex TEXT, times ISO text.
-- No secret is stored in clear: client secrets, consent handles, codes and tokens are kept as
-- SHA-256 hashes (ledger/_tokens.py); a token's public id (`umo_at_<12 hex>`) is its key.

-- Clients: registered through Dynamic Client Registration (RFC 7591, kind 'dcr') or known by
-- their Client ID Metadata Document (kind 'cimd': client_id is the document's https URL; the
-- document is cached here and re-read when stale). `metadata` is the client's RFC 7591 metadata
-- as JSON, without any secret. A revoked client can neither authorize nor use its tokens.
CREATE TABLE oauth_clients (
    client_id    TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('dcr', 'cimd')),
    client_name  TEXT,
    metadata     TEXT NOT NULL,
    secret_hash  TEXT,
    created_at   TEXT NOT NULL,
    fetched_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- One authorization: the /authorize request waiting for consent (request_hash, 10 minutes),
-- then, once the customer approved it, its code (code_hash, single use, minutes). The tokens it
-- yields carry its auth_id as their grant: reusing the code or a rotated refresh token revokes
-- every token of the grant (OAuth 2.1 section 4.3.1 / 6.1).
CREATE TABLE oauth_authorizations (
    auth_id               TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oauth_clients (client_id),
    request_hash          TEXT NOT NULL UNIQUE,
    scopes                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    redirect_uri_explicit INTEGER NOT NULL,
    resource              TEXT NOT NULL,
    state                 TEXT,
    created_at            TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    decided_at            TEXT,
    customer_id           TEXT REFERENCES customers (customer_id),
    code_hash             TEXT UNIQUE,
    code_expires_at       TEXT,
    code_used_at          TEXT
);
CREATE INDEX oauth_authorizations_client ON oauth_authorizations (client_id);

-- Access and refresh tokens. Short-lived access tokens, rotating refresh tokens; each bound to
-- one customer (the resource owner), one client and one resource (RFC 8707).
CREATE TABLE oauth_tokens (
    token_id     TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    secret_hash  TEXT NOT NULL,
    auth_id      TEXT NOT NULL REFERENCES oauth_authorizations (auth_id),
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id),
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    scopes       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX oauth_tokens_auth ON oauth_tokens (auth_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);
