CREATE OR REPLACE TABLE customers AS
WITH p AS (
    SELECT id, created, from_json(data, '{"email": "VARCHAR", "name": "VARCHAR", "currency": "VARCHAR",
        "delinquent": "BOOLEAN", "deleted": "BOOLEAN", "test_clock": "JSON", "metadata": "JSON"}') AS j
    FROM raw_customers
)
SELECT
    id,
    epoch_ts(created)                                        AS created,
    j.email                                                  AS email,
    j.name                                                   AS name,
    j.currency                                               AS currency,
    j.delinquent                                             AS delinquent,
    coalesce(j.deleted, false)                               AS deleted,
    json_id(j.test_clock)                                    AS test_clock,
    j.metadata                                               AS metadata
FROM p;
