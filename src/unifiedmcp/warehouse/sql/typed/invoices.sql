-- Invoices in both API shapes: before 2025 `subscription`, `payment_intent` and `charge` sit at
-- the top level; now they are under `parent.subscription_details` and `payments[]`.
-- Each raw document is parsed once (from_json) into the fields read here.
CREATE OR REPLACE TABLE invoices AS
WITH p AS (
    SELECT id, created, from_json(data, '{
        "customer": "JSON", "status": "VARCHAR", "currency": "VARCHAR", "amount_due": "BIGINT",
        "amount_paid": "BIGINT", "amount_remaining": "BIGINT", "total": "BIGINT",
        "billing_reason": "VARCHAR", "parent": "JSON", "subscription": "JSON",
        "period_start": "BIGINT", "period_end": "BIGINT",
        "status_transitions": {"paid_at": "BIGINT", "voided_at": "BIGINT"},
        "attempt_count": "INTEGER", "lines": {"has_more": "BOOLEAN"}, "payments": "JSON"}') AS j
    FROM raw_invoices
)
SELECT
    id,
    json_id(j.customer)                                      AS customer,
    j.status                                                 AS status,
    lower(j.currency)                                        AS currency,
    epoch_ts(created)                                        AS created,
    j.amount_due                                             AS amount_due,
    j.amount_paid                                            AS amount_paid,
    j.amount_remaining                                       AS amount_remaining,
    j.total                                                  AS total,
    j.billing_reason                                         AS billing_reason,
    coalesce(json_id(j.parent -> 'subscription_details' -> 'subscription'),
             json_id(j.subscription))                        AS subscription,
    epoch_ts(j.period_start)                                 AS period_start,
    epoch_ts(j.period_end)                                   AS period_end,
    epoch_ts(j.status_transitions.paid_at)                   AS paid_at,
    epoch_ts(j.status_transitions.voided_at)                 AS voided_at,
    j.attempt_count                                          AS attempt_count,
    coalesce(j.lines.has_more, false)                        AS lines_has_more,
    CASE WHEN json_type(j.parent) = 'OBJECT' OR json_type(j.payments) IN ('ARRAY', 'OBJECT')
         THEN 'current' ELSE 'old' END                       AS api_shape
FROM p;

-- How charges reach invoices: current `payments.data[].payment.payment_intent` (or `.charge`), or
-- the old top-level `payment_intent` / `charge`.
CREATE OR REPLACE TABLE invoice_payments AS
WITH p AS (
    SELECT id, from_json(data, '{
        "payments": {"data": [{"status": "VARCHAR",
                               "payment": {"payment_intent": "JSON", "charge": "JSON"}}]},
        "payment_intent": "JSON", "charge": "JSON"}') AS j
    FROM raw_invoices
)
SELECT
    invoice,
    json_id(x.payment.payment_intent)                        AS payment_intent,
    json_id(x.payment.charge)                                AS charge,
    x.status                                                 AS status,
    'payments'                                               AS via
FROM (SELECT id AS invoice, unnest(j.payments.data) AS x FROM p)
UNION ALL
SELECT id, json_id(j.payment_intent), json_id(j.charge), NULL, 'legacy'
FROM p
WHERE j.payment_intent IS NOT NULL OR j.charge IS NOT NULL;
