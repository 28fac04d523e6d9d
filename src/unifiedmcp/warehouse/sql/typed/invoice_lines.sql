-- Invoice lines in both API shapes, normalised (metrics.md §1 and §3):
--   old:     type ('subscription' | 'invoiceitem'), proration, subscription, subscription_item,
--            price (object or id), plan
--   current: parent.type ('subscription_item_details' | 'invoice_item_details'),
--            parent.subscription_item_details.{subscription, subscription_item, proration},
--            pricing.price_details.price
-- Each document is parsed once (from_json), its lines list included.
CREATE OR REPLACE TABLE invoice_lines AS
WITH inv AS (
    SELECT id, from_json(data, '{
        "parent": {"subscription_details": {"subscription": "JSON"}}, "subscription": "JSON",
        "lines": {"data": [{
            "id": "VARCHAR", "amount": "BIGINT", "currency": "VARCHAR", "quantity": "BIGINT",
            "discount_amounts": [{"amount": "BIGINT"}], "period": {"start": "BIGINT", "end": "BIGINT"},
            "type": "VARCHAR", "proration": "BOOLEAN", "subscription": "JSON", "subscription_item": "JSON",
            "price": "JSON", "plan": "JSON",
            "parent": {"type": "VARCHAR",
                       "subscription_item_details": {"subscription": "JSON", "subscription_item": "JSON",
                                                     "proration": "BOOLEAN"},
                       "invoice_item_details": {"proration": "BOOLEAN"}},
            "pricing": {"price_details": {"price": "JSON"}}}]}}') AS j
    FROM raw_invoices
),
u AS (
    -- select-list unnest (a lateral join would deduplicate the whole parsed document)
    SELECT id AS invoice,
           json_id(coalesce(j.parent.subscription_details.subscription, j.subscription)) AS invoice_subscription,
           unnest(j.lines.data) AS x,
           unnest(generate_series(1, len(j.lines.data))) AS n
    FROM inv
),
l AS (SELECT *, x.parent.type IS NOT NULL AS is_current FROM u)
SELECT
    coalesce(x.id, invoice || ':' || n)                      AS id,
    invoice,
    n                                                        AS position,
    CASE WHEN is_current THEN 'current' ELSE 'old' END       AS api_shape,
    coalesce(CASE WHEN is_current THEN x.parent.type = 'subscription_item_details'
                  ELSE x.type = 'subscription' END, false)   AS is_subscription,
    coalesce(CASE WHEN is_current
                  THEN coalesce(x.parent.subscription_item_details.proration,
                                x.parent.invoice_item_details.proration)
                  ELSE x.proration END, false)               AS proration,
    coalesce(CASE WHEN is_current THEN json_id(x.parent.subscription_item_details.subscription) END,
             json_id(x.subscription),
             invoice_subscription)                           AS subscription,
    coalesce(CASE WHEN is_current THEN json_id(x.parent.subscription_item_details.subscription_item) END,
             json_id(x.subscription_item))                   AS subscription_item,
    coalesce(json_id(x.pricing.price_details.price), json_id(x.price), json_id(x.plan)) AS price,
    x.amount                                                 AS amount,
    coalesce(list_sum([d.amount FOR d IN x.discount_amounts]), 0) AS discount_amount,
    lower(x.currency)                                        AS currency,
    x.quantity                                               AS quantity,
    epoch_ts(x.period.start)                                 AS period_start,
    epoch_ts(x.period."end")                                 AS period_end,
    CASE WHEN json_type(x.price) = 'OBJECT' THEN x.price
         WHEN json_type(x.plan) = 'OBJECT' THEN x.plan
         WHEN json_type(x.pricing.price_details.price) = 'OBJECT' THEN x.pricing.price_details.price
    END                                                      AS embedded_price
FROM l;
