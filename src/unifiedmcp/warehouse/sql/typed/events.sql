CREATE OR REPLACE TABLE events AS
WITH p AS (
    SELECT id, created, from_json(data, '{"type": "VARCHAR", "api_version": "VARCHAR",
        "data": {"object": "JSON"}}') AS j
    FROM raw_events
)
SELECT
    id,
    j.type                                                   AS type,
    epoch_ts(created)                                        AS created,
    j.api_version                                            AS api_version,
    j.data.object ->> 'id'                                   AS object_id,
    j.data.object ->> 'object'                               AS object_type,
    j.data.object                                            AS object
FROM p;
