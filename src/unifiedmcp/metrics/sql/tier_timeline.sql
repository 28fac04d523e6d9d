-- Each customer's tier over time (metrics.md §6): at instant t, the highest tier among the prices
-- of its counted lines (revenue_lines, contract v2) in the report currency covering t, zero-amount
-- trial lines included; no row where none covers t (the default tier). Rows are maximal:
-- [valid_from, valid_to) with one tier. Prices map to tiers through _m_price_tier (price_tier.sql),
-- and a price missing from the catalog can still be named by id in the tier table.
-- Built once per metrics connection. Parameters: $currency.
CREATE OR REPLACE TEMP TABLE _m_tier_timeline AS
WITH tiered AS (
    SELECT r.customer, r.cover_start, r.cover_end, t.name, t.rank
    FROM revenue_lines r
    LEFT JOIN _m_price_tier pt ON pt.price = r.price
    LEFT JOIN _m_tier_keys k ON k.key = r.price
    JOIN _m_tiers t ON t.name = coalesce(pt.tier, k.tier)
    WHERE r.currency = $currency
),
bounds AS (
    SELECT customer, cover_start AS t FROM tiered
    UNION
    SELECT customer, cover_end FROM tiered
),
pieces AS (
    SELECT customer, t AS s, lead(t) OVER (PARTITION BY customer ORDER BY t) AS e FROM bounds
),
highest AS (
    SELECT p.customer, p.s, p.e, arg_max(x.name, x.rank) AS tier
    FROM pieces p
    JOIN tiered x ON x.customer = p.customer AND x.cover_start <= p.s AND x.cover_end >= p.e
    WHERE p.e IS NOT NULL
    GROUP BY p.customer, p.s, p.e
),
runs AS (
    SELECT *, sum(CASE WHEN prev_e = s AND prev_tier = tier THEN 0 ELSE 1 END)
                  OVER (PARTITION BY customer ORDER BY s ROWS UNBOUNDED PRECEDING) AS run
    FROM (SELECT *, lag(e) OVER w AS prev_e, lag(tier) OVER w AS prev_tier
          FROM highest WINDOW w AS (PARTITION BY customer ORDER BY s))
)
SELECT customer, tier, min(s) AS valid_from, max(e) AS valid_to
FROM runs
GROUP BY customer, tier, run;
