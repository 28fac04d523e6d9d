-- Recurring-revenue lines (metrics.md §3), every currency: lines of paid or open invoices that are
-- subscription lines and not prorations, with the customer, the monthly amount in hundredths of
-- the minor unit (mrr_x100) and the covered instants [cover_start, cover_end): period.start to
-- period.end, cut short at the subscription's ended_at. Empty coverage is dropped.
CREATE OR REPLACE TABLE revenue_lines AS
WITH base AS (
    SELECT
        l.id,
        coalesce(i.customer, s.customer)                         AS customer,
        l.subscription,
        l.price,
        coalesce(l.currency, i.currency)                         AS currency,
        l.amount - l.discount_amount                             AS net_amount,
        l.period_start                                           AS cover_start,
        CASE WHEN s.ended_at IS NOT NULL AND s.ended_at < l.period_end THEN s.ended_at
             ELSE l.period_end END                               AS cover_end,
        -- A price we know nothing about: a period of 300 days or more is taken as a year.
        coalesce(p.interval, CASE WHEN date_diff('day', l.period_start, l.period_end) >= 300
                                  THEN 'year' ELSE 'month' END)  AS interval,
        CASE WHEN p.interval IS NULL THEN 1 ELSE p.interval_count END AS interval_count
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice
    LEFT JOIN subscriptions s ON s.id = l.subscription
    LEFT JOIN price_catalog p ON p.id = l.price
    WHERE i.status IN ('paid', 'open')
      AND l.is_subscription
      AND NOT l.proration
)
SELECT id, customer, subscription, price, currency, cover_start, cover_end,
       monthly_x100(net_amount, interval, interval_count) AS mrr_x100
FROM base
WHERE cover_end > cover_start AND customer IS NOT NULL
ORDER BY cover_start;
