-- Per customer with usage in M or a paid tier at the end of M (metrics.md §6, contract v2). Calls
-- are judged against the tier each was made on (_m_calls): per tier T, over_T = max(0, billable
-- calls on T - included(T)); over is their sum, overage_amount the sum of over_T x T's price per
-- call, rounded to 2 decimals. `tier` is the tier at the end of M, `included` its calls, and
-- utilisation counts the billable calls made on it. Also: rejected calls, the upgrade threshold
-- (the monthly price difference to the next tier, NULL when unknown) and upgrade_candidate: a
-- customer on the default tier at the end of M with rejected calls in M, or on a paid tier with
-- an overage amount above the threshold. Parameters: $m_start, $m_next, $currency.
WITH per_tier AS (
    SELECT c.customer, c.tier, count(*) AS calls, count(*) FILTER (WHERE c.status = 'ok') AS billable_calls,
           count(*) FILTER (WHERE c.status = 'rejected') AS rejected
    FROM _m_calls($m_start, $m_next) c
    GROUP BY c.customer, c.tier
),
judged AS (
    SELECT p.*, greatest(0, p.billable_calls - t.monthly_api_calls) AS over,
           greatest(0, p.billable_calls - t.monthly_api_calls) * t.overage_per_call AS overage
    FROM per_tier p JOIN _m_tiers t ON t.name = p.tier
),
used AS (
    SELECT customer, sum(calls) AS calls, sum(billable_calls) AS billable_calls, sum(rejected) AS rejected,
           sum(over) AS over, sum(overage) AS overage
    FROM judged
    GROUP BY customer
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
           coalesce(u.calls, 0) AS calls, coalesce(u.billable_calls, 0) AS billable_calls,
           coalesce(u.rejected, 0) AS rejected, coalesce(u.over, 0) AS over, coalesce(u.overage, 0) AS overage
    FROM used u FULL JOIN _m_tier_at t ON t.customer = u.customer
    CROSS JOIN (SELECT name FROM _m_tiers WHERE is_default) d
),
measured AS (
    SELECT p.*, t.monthly_api_calls AS included, coalesce(j.billable_calls, 0) AS billable_on_tier,
           round(p.overage, 2) AS overage_amount, t.next_tier, t.is_default
    FROM people p
    JOIN _m_tiers t ON t.name = p.tier
    LEFT JOIN judged j ON j.customer = p.customer AND j.tier = p.tier
),
thresholds AS (
    SELECT m.*,
           (nxt.monthly_x100 - coalesce(cur.monthly_x100, CASE WHEN m.is_default THEN 0 END)) / 100 AS upgrade_threshold
    FROM measured m
    LEFT JOIN tier_prices cur ON cur.tier = m.tier
    LEFT JOIN tier_prices nxt ON nxt.tier = m.next_tier
)
SELECT
    customer, tier, calls, billable_calls, included, over, overage_amount,
    CASE WHEN included > 0 THEN billable_on_tier / included END AS utilisation,
    upgrade_threshold, rejected,
    CASE WHEN is_default THEN rejected > 0
         ELSE coalesce(overage_amount > upgrade_threshold, false) END AS upgrade_candidate
FROM thresholds
ORDER BY overage_amount DESC, customer;
