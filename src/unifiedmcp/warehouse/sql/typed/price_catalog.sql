-- Every price the warehouse knows, for interval normalisation and tier mapping: the prices
-- export first, then prices embedded in subscription items, then in (old-shape) invoice lines.
-- Old `plan` objects carry interval/interval_count/amount/usage_type at the top level.
-- usage_type: 'metered' for usage prices (billed in arrears, not recurring revenue), else
-- 'licensed' or NULL.
CREATE OR REPLACE TABLE price_catalog AS
WITH embedded AS (
    SELECT embedded_price AS p, 2 AS priority FROM subscription_items WHERE embedded_price IS NOT NULL
    UNION ALL
    SELECT embedded_price, 3 FROM invoice_lines WHERE embedded_price IS NOT NULL
),
candidates AS (
    SELECT id, product, currency, unit_amount, recurring_interval AS interval,
           recurring_interval_count AS interval_count, usage_type, lookup_key, metadata_tier,
           product_metadata_tier, 1 AS priority
    FROM prices
    UNION ALL
    SELECT
        p ->> 'id',
        json_id(p -> 'product'),
        lower(p ->> 'currency'),
        TRY_CAST(coalesce(p ->> 'unit_amount', p ->> 'amount') AS BIGINT),
        coalesce(p -> 'recurring' ->> 'interval', p ->> 'interval'),
        TRY_CAST(coalesce(p -> 'recurring' ->> 'interval_count', p ->> 'interval_count') AS INTEGER),
        coalesce(p -> 'recurring' ->> 'usage_type', p ->> 'usage_type'),
        p ->> 'lookup_key',
        p -> 'metadata' ->> 'tier',
        CASE WHEN json_type(p -> 'product') = 'OBJECT' THEN p -> 'product' -> 'metadata' ->> 'tier' END,
        priority
    FROM embedded
    WHERE p ->> 'id' IS NOT NULL
)
SELECT * EXCLUDE (priority)
FROM candidates
QUALIFY row_number() OVER (PARTITION BY id ORDER BY priority) = 1;
