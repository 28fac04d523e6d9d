-- Lines and rows the loaders rejected, per input, beside what loaded (the report gate's rejected
-- share): Stripe objects per export file type (or sync type), and usage rows.
WITH stripe AS (
    SELECT coalesce(nullif(regexp_extract(source, '([a-z_]+)s\.jsonl', 1), ''),
                    nullif(regexp_extract(source, '^sync:([a-z_]+)$', 1), ''), 'other') AS kind,
           count(*) AS rejected
    FROM stripe_rejects
    GROUP BY 1
),
loaded AS (
    SELECT 'customer' AS kind, count(*) AS n FROM raw_customers
    UNION ALL SELECT 'product', count(*) FROM raw_products
    UNION ALL SELECT 'price', count(*) FROM raw_prices
    UNION ALL SELECT 'subscription', count(*) FROM raw_subscriptions
    UNION ALL SELECT 'invoice', count(*) FROM raw_invoices
    UNION ALL SELECT 'charge', count(*) FROM raw_charges
    UNION ALL SELECT 'payment_intent', count(*) FROM raw_payment_intents
    UNION ALL SELECT 'refund', count(*) FROM raw_refunds
    UNION ALL SELECT 'event', count(*) FROM raw_events
)
SELECT s.kind, s.rejected, coalesce(l.n, 0) AS loaded
FROM stripe s LEFT JOIN loaded l ON l.kind = s.kind
UNION ALL
SELECT 'usage', (SELECT count(*) FROM usage_rejects), (SELECT count(*) FROM usage_events)
ORDER BY 1;
