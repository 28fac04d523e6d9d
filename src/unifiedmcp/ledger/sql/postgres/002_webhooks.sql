-- Ledger schema v2 (billing, PostgreSQL): the tables of sql/sqlite/002_webhooks.sql, with BIGINT
-- for SQLite's 64-bit INTEGER. The Stripe webhook event log, the rejected-deliveries counter,
-- and mirrors of subscriptions, invoices and payment incidents kept by the webhook receiver.
-- Stripe times (`created`, periods) are Unix seconds as Stripe sends them; our own times are ISO text.

-- Every verified event, recorded in the same transaction that applies it. A duplicate delivery
-- finds its row and changes nothing. `payload` is the event exactly as received (for replay).
CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    created      BIGINT NOT NULL,
    object_id    TEXT,
    livemode     BIGINT NOT NULL DEFAULT 0,
    received_at  TEXT NOT NULL,
    processed_at TEXT,
    status       TEXT NOT NULL CHECK (status IN ('received', 'applied', 'failed', 'ignored')),
    note         TEXT,                      -- why an event was ignored (unhandled type, stale)
    error        TEXT,                      -- the last handler error of a failed event
    attempts     BIGINT NOT NULL DEFAULT 1,
    replayed_at  TEXT,
    payload      TEXT NOT NULL
);
CREATE INDEX webhook_events_status ON webhook_events (status, created);

-- Deliveries refused before anything is stored (bad signature, stale timestamp, too large, not
-- JSON): only counted, by reason. The ops report reads sum(count).
CREATE TABLE webhook_rejections (
    reason   TEXT PRIMARY KEY,
    count    BIGINT NOT NULL DEFAULT 0,
    last_at  TEXT NOT NULL
);

-- The latest known state of each subscription. `state_created` is the `created` of the event (or
-- re-fetch) the row reflects: an older event never overwrites it.
CREATE TABLE subscriptions (
    subscription_id      TEXT PRIMARY KEY,
    customer_id          TEXT NOT NULL,
    status               TEXT NOT NULL,
    price_id             TEXT,
    tier                 TEXT,              -- the price's tier (whatever the status)
    quantity             BIGINT,
    current_period_start BIGINT,
    current_period_end   BIGINT,
    cancel_at_period_end BIGINT NOT NULL DEFAULT 0,
    cancel_at            BIGINT,
    canceled_at          BIGINT,
    trial_end            BIGINT,
    state_created        BIGINT NOT NULL,
    state_event_id       TEXT,
    snapshot             TEXT NOT NULL,     -- the subscription object the row reflects (JSON)
    previous             TEXT,              -- that event's previous_attributes (JSON), for ties
    updated_at           TEXT NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);

CREATE TABLE invoices (
    invoice_id      TEXT PRIMARY KEY,
    customer_id     TEXT,
    subscription_id TEXT,
    status          TEXT,
    billing_reason  TEXT,
    currency        TEXT,
    amount_due      BIGINT,
    amount_paid     BIGINT,
    attempt_count   BIGINT,
    payment_failed  BIGINT NOT NULL DEFAULT 0, -- a payment attempt of this invoice failed
    state_created   BIGINT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX invoices_customer ON invoices (customer_id);

-- Refunds and disputes, one row per charge (refund) or dispute.
CREATE TABLE payment_incidents (
    incident_id  TEXT PRIMARY KEY,          -- 'refund:<charge id>' or the dispute id
    kind         TEXT NOT NULL CHECK (kind IN ('refund', 'dispute')),
    charge_id    TEXT,
    customer_id  TEXT,
    amount       BIGINT,
    currency     TEXT,
    status       TEXT,
    created      BIGINT NOT NULL,
    updated_at   TEXT NOT NULL
);
