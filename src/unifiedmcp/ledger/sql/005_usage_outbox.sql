-- Ledger schema v5 (usage billing, issue 14): the durable outbox of meter events that report
-- paying customers' billable calls to Stripe Billing Meters. Portable SQL (both dialects).
--
-- Staging (one transaction) reads the usage rows after `staged_seq` that can no longer change,
-- aggregates the billable ones per customer and second, inserts them here and moves `staged_seq`
-- on: a crash leaves all of it or none. Sending marks rows sent (or failed, with Stripe's error);
-- a row is sent again only while pending, always with the same identifier, which Stripe
-- de-duplicates, so a retry or a second pusher never counts a call twice.

CREATE TABLE meter_push_state (
    name        TEXT PRIMARY KEY,            -- the meter event name, e.g. mcp_api_call
    staged_seq  BIGINT NOT NULL,             -- usage_events.seq up to which rows are staged
    updated_at  TEXT NOT NULL
);

CREATE TABLE meter_outbox (
    identifier   TEXT PRIMARY KEY,           -- the meter event identifier, from ledger ids
    event_name   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    ts           BIGINT NOT NULL,            -- Unix second of the calls (the calls' own time)
    value        BIGINT NOT NULL,            -- billable calls in that second
    first_seq    BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    error        TEXT,                       -- Stripe's answer to a failed row (masked)
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);
CREATE INDEX meter_outbox_status ON meter_outbox (status, ts);
CREATE INDEX meter_outbox_customer ON meter_outbox (customer_id, ts);
