-- Each known price's tier (metrics.md §6), in order: price.metadata.tier, the product's
-- metadata.tier (as embedded in the price, then from the products export), then the tier table's
-- price ids and lookup keys. NULL when none applies. Built once per metrics connection.
CREATE OR REPLACE TEMP TABLE _m_price_tier AS
SELECT p.id AS price,
       coalesce(t_price.name, t_pproduct.name, t_product.name, k_id.tier, k_lookup.tier) AS tier
FROM price_catalog p
LEFT JOIN products pr ON pr.id = p.product
LEFT JOIN _m_tiers t_price ON t_price.name = p.metadata_tier
LEFT JOIN _m_tiers t_pproduct ON t_pproduct.name = p.product_metadata_tier
LEFT JOIN _m_tiers t_product ON t_product.name = pr.metadata_tier
LEFT JOIN _m_tier_keys k_id ON k_id.key = p.id
LEFT JOIN _m_tier_keys k_lookup ON k_lookup.key = p.lookup_key;
