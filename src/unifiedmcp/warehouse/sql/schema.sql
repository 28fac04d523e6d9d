-- Warehouse schema (DuckDB; version in _db.SCHEMA_VERSION). All times are naive TIMESTAMPs in UTC; amounts are integers in
-- the currency's minor unit. Raw tables keep every Stripe object exactly as loaded (JSON), one row
-- per id (the last copy wins); typed tables (typed/*.sql) are rebuilt from them after each load.

CREATE TABLE IF NOT EXISTS warehouse_meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS raw_customers       (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_products        (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_prices          (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_subscriptions   (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_invoices        (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_charges         (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_payment_intents (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_refunds         (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_events          (id VARCHAR NOT NULL, created BIGINT, data JSON NOT NULL, source VARCHAR, loaded_at TIMESTAMP);

-- Lines of a JSON Lines export that could not be loaded (invalid JSON, no id, wrong object type).
CREATE TABLE IF NOT EXISTS stripe_rejects (source VARCHAR, line BIGINT, reason VARCHAR, loaded_at TIMESTAMP);

-- Metered calls. event_id is unique: a repeated id counts once (the first copy loaded is kept).
-- event_id is stored with zstd: unique ids gain little from DuckDB's default dictionary+FSST
-- (+7 % on disk with zstd) but cost the most to compress, a third of a large load's write time.
-- Metrics never scan it; only the de-duplication of a later load does. (Warehouses created
-- before this keep the default: DuckDB cannot change a column's compression in place.)
CREATE TABLE IF NOT EXISTS usage_events (
    event_id    VARCHAR NOT NULL USING COMPRESSION zstd,
    customer_id VARCHAR NOT NULL,
    tool_name   VARCHAR NOT NULL,
    ts          TIMESTAMP NOT NULL,
    status      VARCHAR NOT NULL,      -- ok | error | rejected | interrupted (unifiedmcp/_usage_status.py)
    user_id     VARCHAR,
    latency_ms  DOUBLE,
    source      VARCHAR,               -- file path, or ledger:<path>
    tier        VARCHAR                -- the tier the call was admitted under, when the log says
);

-- Usage events older than the retention period, rolled up by `retention apply` (docs/privacy.md):
-- calls per UTC day (`day`: its first instant), customer, recorded tier, tool and status. The
-- metrics count these before the roll-up horizon (sync_state 'usage_rollup_horizon') and raw
-- events from it on, so usage loaded again after a roll-up is never counted twice.
CREATE TABLE IF NOT EXISTS usage_daily (
    day         TIMESTAMP NOT NULL,
    customer_id VARCHAR NOT NULL,
    tier        VARCHAR,
    tool_name   VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    calls       BIGINT NOT NULL
);

-- Malformed usage rows, with their line (CSV/JSONL, 1-based) or row (Parquet, 1-based) number.
-- Re-loading the same file replaces its rows here.
CREATE TABLE IF NOT EXISTS usage_rejects (source VARCHAR, line BIGINT, reason VARCHAR, loaded_at TIMESTAMP);

-- One row per load, pull or sync: what came in.
CREATE TABLE IF NOT EXISTS load_log (
    loaded_at TIMESTAMP, kind VARCHAR, source VARCHAR,
    loaded BIGINT, replaced BIGINT, rejected BIGINT, detail JSON
);

-- Watermarks and cursors (pull-usage, sync): key -> value.
CREATE TABLE IF NOT EXISTS sync_state (key VARCHAR PRIMARY KEY, value VARCHAR, updated_at TIMESTAMP);
