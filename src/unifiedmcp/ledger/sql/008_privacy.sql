-- Ledger schema v8 (privacy, issue 17; docs/privacy.md). Portable SQL (both dialects).

-- Raw usage events older than the retention period, rolled up by `retention apply` into daily
-- totals per customer, tier and tool (and status, which the metrics need). `tier` is '' for calls
-- recorded before the ledger kept each call's tier (schema v4). `status` takes every value of
-- usage_events.status (schema v7: interrupted too). Rows only ever grow: a later roll-up of the
-- same day adds to them.
CREATE TABLE usage_daily (
    day          TEXT NOT NULL,               -- YYYY-MM-DD (UTC)
    customer_id  TEXT NOT NULL,
    tier         TEXT NOT NULL DEFAULT '',
    tool_name    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'error', 'rejected', 'interrupted')),
    calls        BIGINT NOT NULL,
    PRIMARY KEY (day, customer_id, tier, tool_name, status)
);
CREATE INDEX usage_daily_customer ON usage_daily (customer_id);

-- When retention purged an event's payload (kept: id, type, status and times). A purged event
-- cannot be replayed.
ALTER TABLE webhook_events ADD COLUMN payload_purged_at TEXT;

-- One row per erasure (`privacy erase`): when, and what was done per store. `subject` is the
-- customer's pseudonym (anon_…), never its id; `steps` holds counts only. While an erasure runs,
-- `pending` holds what it must still find (the customer's id, e-mails, names), encrypted under a
-- key derived from UNIFIEDMCP_PSEUDONYM_KEY, so that a run killed halfway finishes the same way
-- when run again; it is emptied when the erasure is done.
CREATE TABLE erasure_log (
    erasure_id   TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('started', 'done')),
    stripe       TEXT,                       -- deleted | already_deleted | not requested (NULL)
    steps        TEXT NOT NULL,              -- JSON: step -> {"at": time, counts}
    pending      TEXT
);
CREATE INDEX erasure_log_subject ON erasure_log (subject, status);
