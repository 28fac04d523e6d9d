CREATE OR REPLACE TABLE payment_intents AS
SELECT
    id,
    json_id(data -> 'customer')                              AS customer,
    epoch_ts(created)                                        AS created,
    data ->> 'status'                                        AS status,
    TRY_CAST(data ->> 'amount' AS BIGINT)                    AS amount,
    lower(data ->> 'currency')                               AS currency,
    json_id(data -> 'latest_charge')                         AS latest_charge,
    json_id(data -> 'invoice')                               AS invoice,   -- old shape only
    data -> 'last_payment_error' ->> 'code'                  AS last_error_code
FROM raw_payment_intents;
