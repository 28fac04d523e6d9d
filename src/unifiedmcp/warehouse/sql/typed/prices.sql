CREATE OR REPLACE TABLE prices AS
SELECT
    id,
    epoch_ts(created)                                        AS created,
    json_id(data -> 'product')                               AS product,
    TRY_CAST(data ->> 'active' AS BOOLEAN)                   AS active,
    lower(data ->> 'currency')                               AS currency,
    TRY_CAST(data ->> 'unit_amount' AS BIGINT)               AS unit_amount,
    data ->> 'type'                                          AS type,
    data -> 'recurring' ->> 'interval'                       AS recurring_interval,
    TRY_CAST(data -> 'recurring' ->> 'interval_count' AS INTEGER) AS recurring_interval_count,
    data -> 'recurring' ->> 'usage_type'                     AS usage_type,
    data ->> 'lookup_key'                                    AS lookup_key,
    data ->> 'nickname'                                      AS nickname,
    data -> 'metadata' ->> 'tier'                            AS metadata_tier,
    CASE WHEN json_type(data -> 'product') = 'OBJECT'
         THEN data -> 'product' -> 'metadata' ->> 'tier' END AS product_metadata_tier,
    data -> 'metadata'                                       AS metadata
FROM raw_prices;
