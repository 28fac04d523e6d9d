-- Ledger schema v7 (issue 20, item 8): a metered call may end `interrupted`, admitted and counted
-- but never seen ending (its process died mid-call); see unifiedmcp/_usage_status.py.
-- SQLite cannot change a CHECK constraint in place, so usage_events is rebuilt, keeping every row,
-- its seq and the event_id index. The copy is positional (SELECT *): a column that an earlier
-- migration added to usage_events must be listed here too, in the same place, or this migration
-- fails ("has N columns but M values were supplied") rather than drop it.
CREATE TABLE usage_events_v7 (
    seq          INTEGER PRIMARY KEY,       -- rows are never deleted, so rowids only grow
    event_id     TEXT NOT NULL UNIQUE,
    customer_id  TEXT NOT NULL,
    tool_name    TEXT NOT NULL,
    ts           TEXT NOT NULL,
    month        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'error', 'rejected', 'interrupted')),
    latency_ms   REAL,
    user_id      TEXT,
    tier         TEXT                       -- migration 004
);
INSERT INTO usage_events_v7 SELECT * FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_v7 RENAME TO usage_events;
