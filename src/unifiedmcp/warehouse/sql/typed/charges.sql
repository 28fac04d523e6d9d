CREATE OR REPLACE TABLE charges AS
WITH p AS (
    SELECT id, created, from_json(data, '{
        "customer": "JSON", "status": "VARCHAR", "amount": "BIGINT", "amount_refunded": "BIGINT",
        "currency": "VARCHAR", "payment_intent": "JSON", "invoice": "JSON",
        "outcome": {"type": "VARCHAR", "reason": "VARCHAR"}, "failure_code": "VARCHAR",
        "failure_message": "VARCHAR"}') AS j
    FROM raw_charges
)
SELECT
    id,
    json_id(j.customer)                                      AS customer,
    epoch_ts(created)                                        AS created,
    j.status                                                 AS status,
    j.amount                                                 AS amount,
    j.amount_refunded                                        AS amount_refunded,
    lower(j.currency)                                        AS currency,
    json_id(j.payment_intent)                                AS payment_intent,
    json_id(j.invoice)                                       AS invoice,   -- old shape only
    j.outcome.type                                           AS outcome_type,
    j.outcome.reason                                         AS outcome_reason,
    j.failure_code                                           AS failure_code,
    j.failure_message                                        AS failure_message
FROM p
ORDER BY created;
