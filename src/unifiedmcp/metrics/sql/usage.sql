-- Per customer with usage in M or a paid tier at the end of M (metrics.md §6): calls, billable
-- calls, tier, included calls, overage and utilisation; plus the upgrade threshold (the monthly
-- price difference to the next tier, NULL when unknown). Parameters: $m_start, $m_next, $currency.
WITH used AS (
    SELECT customer_id AS customer, count(*) AS calls, count(*) FILTER (WHERE status = 'ok') AS billable_calls
    FROM usage_events
    WHERE ts >= $m_start AND ts < $m_next
    GROUP BY customer_id
),
tier_prices AS (
    -- A tier's monthly price: its monthly (1-month) price in the currency, else its cheapest
    -- recurring price normalised to a month; the default tier costs 0 unless priced.
    SELECT tier, arg_min(monthly_x100, (NOT is_monthly, monthly_x100)) AS monthly_x100
    FROM (
        SELECT pt.tier,
               monthly_x100(p.unit_amount, p.interval, p.interval_count) AS monthly_x100,
               p.interval = 'month' AND coalesce(p.interval_count, 1) = 1 AS is_monthly
        FROM price_catalog p
        JOIN _m_price_tier pt ON pt.price = p.id
        WHERE p.currency = $currency AND p.interval IS NOT NULL AND p.unit_amount IS NOT NULL
    )
    WHERE tier IS NOT NULL
    GROUP BY tier
),
people AS (
    SELECT coalesce(u.customer, t.customer) AS customer, coalesce(t.tier, d.name) AS tier,
           coalesce(u.calls, 0) AS calls, coalesce(u.billable_calls, 0) AS billable_calls
    FROM used u FULL JOIN _m_tier_at t ON t.customer = u.customer
    CROSS JOIN (SELECT name FROM _m_tiers WHERE is_default) d
),
measured AS (
    SELECT p.customer, p.tier, p.calls, p.billable_calls, t.monthly_api_calls AS included,
           greatest(0, p.billable_calls - t.monthly_api_calls) AS over,
           t.overage_per_call, t.next_tier, t.is_default
    FROM people p JOIN _m_tiers t ON t.name = p.tier
)
SELECT
    m.customer, m.tier, m.calls, m.billable_calls, m.included, m.over,
    round(m.over * m.overage_per_call, 2) AS overage_amount,
    CASE WHEN m.included > 0 THEN m.billable_calls / m.included END AS utilisation,
    (nxt.monthly_x100 - coalesce(cur.monthly_x100, CASE WHEN m.is_default THEN 0 END)) / 100 AS upgrade_threshold
FROM measured m
LEFT JOIN tier_prices cur ON cur.tier = m.tier
LEFT JOIN tier_prices nxt ON nxt.tier = m.next_tier
ORDER BY overage_amount DESC, m.customer;
