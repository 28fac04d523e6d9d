-- Recurring-revenue lines (metrics.md §3, with "Mid-period changes", contract v2), every currency:
-- the pieces of coverage that count, with the customer, the monthly amount in hundredths of the
-- minor unit (mrr_x100) and the covered instants [cover_start, cover_end).
--
-- Counted lines are those of paid or open invoices that are either
--   * subscription lines, not prorations: (amount - discounts) normalised by the price's interval;
--   * positive proration lines of a subscription item (the "remaining time" half of a change
--     made with create_prorations): the new price's unit_amount x the line's quantity, less the
--     line's share of discount, normalised by the price's interval.
-- Lines of metered prices (usage billed in arrears: the overage) are not recurring revenue; they
-- are reported as overage_revenue (metrics.md §6 v2, "Billed, not estimated").
-- A line covers period.start to period.end, cut short at its subscription's ended_at.
-- Over the instants a positive proration covers, it replaces every other counted line of its
-- subscription item; where positive prorations of one item overlap, the latest change wins (by
-- period.start, then the invoice's created, then the line's position). So a line may count on
-- pieces of its period only: one row per counted piece (`id` repeats). Empty coverage is dropped.
-- A positive proration whose price has no known unit_amount is not counted (the item keeps its
-- regular line), and a negative proration never is.
CREATE OR REPLACE TABLE revenue_lines AS
WITH base AS (
    SELECT
        l.id,
        coalesce(i.customer, s.customer)                         AS customer,
        l.subscription,
        l.subscription_item                                      AS item,
        l.price,
        coalesce(l.currency, i.currency)                         AS currency,
        l.proration,
        l.amount - l.discount_amount                             AS net_amount,
        l.amount                                                 AS gross_amount,
        p.unit_amount * coalesce(l.quantity, 1)                  AS full_amount,
        i.created                                                AS invoice_created,
        l.position,
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
      AND coalesce(p.usage_type, 'licensed') <> 'metered'
      AND ((l.is_subscription AND NOT l.proration)
           OR (l.proration AND l.amount > 0 AND l.subscription_item IS NOT NULL
               AND p.unit_amount IS NOT NULL AND p.interval IS NOT NULL))
),
lines AS (
    SELECT id, customer, subscription, item, price, currency, proration, invoice_created, position,
           cover_start, cover_end,
           CASE WHEN proration
                THEN monthly_x100_ratio(full_amount * net_amount, gross_amount, interval, interval_count)
                ELSE monthly_x100(net_amount, interval, interval_count) END AS mrr_x100
    FROM base
    WHERE cover_end > cover_start AND customer IS NOT NULL
),
-- Items with a counted proration are cut into pieces at every start and end of their lines.
changed AS (SELECT DISTINCT item FROM lines WHERE proration),
bounds AS (
    SELECT item, cover_start AS t FROM lines WHERE item IN (SELECT item FROM changed)
    UNION
    SELECT item, cover_end FROM lines WHERE item IN (SELECT item FROM changed)
),
pieces AS (
    SELECT item, t AS piece_start, lead(t) OVER (PARTITION BY item ORDER BY t) AS piece_end FROM bounds
),
candidates AS (
    SELECT l.*, p.piece_start, p.piece_end,
           bool_or(l.proration) OVER (PARTITION BY p.item, p.piece_start) AS any_proration,
           row_number() OVER (PARTITION BY p.item, p.piece_start, l.proration
                              ORDER BY l.cover_start DESC, l.invoice_created DESC, l.position DESC) AS latest
    FROM pieces p
    JOIN lines l ON l.item = p.item AND l.cover_start <= p.piece_start AND l.cover_end >= p.piece_end
    WHERE p.piece_end IS NOT NULL
),
winners AS (
    SELECT * FROM candidates
    WHERE (proration AND latest = 1) OR (NOT proration AND NOT any_proration)
),
-- Consecutive pieces of one line are one row again.
runs AS (
    SELECT *, sum(CASE WHEN prev_end = piece_start THEN 0 ELSE 1 END)
                  OVER (PARTITION BY id ORDER BY piece_start ROWS UNBOUNDED PRECEDING) AS run
    FROM (SELECT *, lag(piece_end) OVER (PARTITION BY id ORDER BY piece_start) AS prev_end FROM winners)
),
kept AS (
    SELECT id, customer, subscription, price, currency, cover_start, cover_end, mrr_x100
    FROM lines
    WHERE item IS NULL OR item NOT IN (SELECT item FROM changed)
    UNION ALL
    SELECT id, any_value(customer), any_value(subscription), any_value(price), any_value(currency),
           min(piece_start), max(piece_end), any_value(mrr_x100)
    FROM runs
    GROUP BY id, run
)
SELECT id, customer, subscription, price, currency, cover_start, cover_end, mrr_x100
FROM kept
ORDER BY cover_start, id;
