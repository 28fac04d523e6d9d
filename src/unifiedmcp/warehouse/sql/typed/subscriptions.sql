CREATE OR REPLACE TABLE subscriptions AS
WITH p AS (
    SELECT id, created, from_json(data, '{
        "customer": "JSON", "status": "VARCHAR", "currency": "VARCHAR", "start_date": "BIGINT",
        "trial_start": "BIGINT", "trial_end": "BIGINT", "cancel_at": "BIGINT",
        "cancel_at_period_end": "BOOLEAN", "canceled_at": "BIGINT", "ended_at": "BIGINT",
        "cancellation_details": {"reason": "VARCHAR"}, "items": {"has_more": "BOOLEAN"},
        "test_clock": "JSON", "metadata": "JSON"}') AS j
    FROM raw_subscriptions
)
SELECT
    id,
    json_id(j.customer)                                      AS customer,
    j.status                                                 AS status,
    lower(j.currency)                                        AS currency,
    epoch_ts(created)                                        AS created,
    epoch_ts(j.start_date)                                   AS start_date,
    epoch_ts(j.trial_start)                                  AS trial_start,
    epoch_ts(j.trial_end)                                    AS trial_end,
    epoch_ts(j.cancel_at)                                    AS cancel_at,
    coalesce(j.cancel_at_period_end, false)                  AS cancel_at_period_end,
    epoch_ts(j.canceled_at)                                  AS canceled_at,
    epoch_ts(j.ended_at)                                     AS ended_at,
    j.cancellation_details.reason                            AS cancellation_reason,
    coalesce(j.items.has_more, false)                        AS items_has_more,
    json_id(j.test_clock)                                    AS test_clock,
    j.metadata                                               AS metadata
FROM p;

-- Items: current shape keeps the billing period on the item, older shapes on the subscription.
CREATE OR REPLACE TABLE subscription_items AS
WITH p AS (
    SELECT id, from_json(data, '{
        "current_period_start": "BIGINT", "current_period_end": "BIGINT",
        "items": {"data": [{"id": "VARCHAR", "price": "JSON", "plan": "JSON", "quantity": "BIGINT",
                            "current_period_start": "BIGINT", "current_period_end": "BIGINT"}]}}') AS j
    FROM raw_subscriptions
)
SELECT
    coalesce(x.id, subscription || ':' || n)                 AS id,
    subscription,
    coalesce(json_id(x.price), json_id(x.plan))              AS price,
    x.quantity                                               AS quantity,
    epoch_ts(coalesce(x.current_period_start, sub_start))    AS current_period_start,
    epoch_ts(coalesce(x.current_period_end, sub_end))        AS current_period_end,
    CASE WHEN json_type(x.price) = 'OBJECT' THEN x.price
         WHEN json_type(x.plan) = 'OBJECT' THEN x.plan END   AS embedded_price
FROM (
    SELECT id AS subscription, j.current_period_start AS sub_start, j.current_period_end AS sub_end,
           unnest(j.items.data) AS x, unnest(generate_series(1, len(j.items.data))) AS n
    FROM p
);
