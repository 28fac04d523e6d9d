-- Each customer's tier at the end of M (metrics.md §6): the highest tier among the prices of its
-- revenue lines in the report currency covering that instant (zero-amount trial lines included).
-- Prices map to tiers through _m_price_tier (price_tier.sql). Parameters: $m_next, $currency.
CREATE OR REPLACE TEMP TABLE _m_tier_at AS
WITH covering AS (
    SELECT r.customer, r.price
    FROM revenue_lines r
    WHERE r.currency = $currency AND r.cover_start < $m_next AND r.cover_end >= $m_next
),
priced AS (
    -- A price missing from the catalog can still be named by id in the tier table.
    SELECT c.customer, coalesce(pt.tier, k_id.tier) AS tier
    FROM covering c
    LEFT JOIN _m_price_tier pt ON pt.price = c.price
    LEFT JOIN _m_tier_keys k_id ON k_id.key = c.price
)
SELECT p.customer, arg_max(t.name, t.rank) AS tier
FROM priced p JOIN _m_tiers t ON t.name = p.tier
GROUP BY p.customer;
