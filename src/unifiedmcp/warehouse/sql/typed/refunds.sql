CREATE OR REPLACE TABLE refunds AS
SELECT
    id,
    json_id(data -> 'charge')                                AS charge,
    json_id(data -> 'payment_intent')                        AS payment_intent,
    epoch_ts(created)                                        AS created,
    data ->> 'status'                                        AS status,
    TRY_CAST(data ->> 'amount' AS BIGINT)                    AS amount,
    lower(data ->> 'currency')                               AS currency,
    data ->> 'reason'                                        AS reason
FROM raw_refunds;
