CREATE OR REPLACE TABLE products AS
SELECT
    id,
    epoch_ts(created)                              AS created,
    data ->> 'name'                                AS name,
    TRY_CAST(data ->> 'active' AS BOOLEAN)         AS active,
    data -> 'metadata' ->> 'tier'                  AS metadata_tier,
    data -> 'metadata'                             AS metadata
FROM raw_products;
