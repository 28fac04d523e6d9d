-- Each customer's tier over time (metrics.md §6): at instant t, the highest tier among the prices
-- of its counted lines (revenue_lines, contract v2) in the report currency covering t, zero-amount
-- trial lines included; no row where none covers t (the default tier). Rows are disjoint pieces
-- [valid_from, valid_to) between the customer's line boundaries (neighbours may share a tier:
-- merging them would cost more than it saves). Prices map to tiers through _m_price_tier (price_tier.sql),
-- and a price missing from the catalog can still be named by id in the tier table.
-- Built per month from the lines covering any instant of [M_start, M_next] (a month's calls and its
-- end). Parameters: $m_start, $m_next, $currency.
CREATE OR REPLACE TEMP TABLE _m_tier_timeline AS
WITH tiered AS (
    SELECT r.customer, r.cover_start, r.cover_end, t.name, t.rank
    FROM revenue_lines r
    LEFT JOIN _m_price_tier pt ON pt.price = r.price
    LEFT JOIN _m_tier_keys k ON k.key = r.price
    JOIN _m_tiers t ON t.name = coalesce(pt.tier, k.tier)
    WHERE r.currency = $currency AND r.cover_start <= $m_next AND r.cover_end > $m_start
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
    SELECT p.customer, arg_max(x.name, x.rank) AS tier, p.s AS valid_from, p.e AS valid_to
    FROM pieces p
    JOIN tiered x ON x.customer = p.customer AND x.cover_start <= p.s AND x.cover_end >= p.e
    WHERE p.e IS NOT NULL
    GROUP BY p.customer, p.s, p.e
)
SELECT * FROM highest;
