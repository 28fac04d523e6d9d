-- Each customer's tier at the end of M (metrics.md §6): the highest tier among the prices of its
-- revenue lines in the report currency covering that instant (zero-amount trial lines included).
-- A price maps to a tier by price.metadata.tier, the product's metadata.tier, then the tier
-- table's price ids and lookup keys. Parameters: $m_next, $currency.
CREATE OR REPLACE TEMP TABLE _m_tier_at AS
WITH covering AS (
    SELECT r.customer, r.price
    FROM revenue_lines r
    WHERE r.currency = $currency AND r.cover_start < $m_next AND r.cover_end >= $m_next
),
priced AS (
    SELECT c.customer,
           coalesce(t_price.name, t_pproduct.name, t_product.name, k_id.tier, k_lookup.tier) AS tier
    FROM covering c
    LEFT JOIN price_catalog p ON p.id = c.price
    LEFT JOIN products pr ON pr.id = p.product
    LEFT JOIN _m_tiers t_price ON t_price.name = p.metadata_tier
    LEFT JOIN _m_tiers t_pproduct ON t_pproduct.name = p.product_metadata_tier
    LEFT JOIN _m_tiers t_product ON t_product.name = pr.metadata_tier
    LEFT JOIN _m_tier_keys k_id ON k_id.key = c.price
    LEFT JOIN _m_tier_keys k_lookup ON k_lookup.key = p.lookup_key
)
SELECT p.customer, arg_max(t.name, t.rank) AS tier
FROM priced p JOIN _m_tiers t ON t.name = p.tier
GROUP BY p.customer;
