-- _m_calls(m_start, m_next): the usage events in [m_start, m_next), each with the tier it is
-- judged against (metrics.md §6, contract v2): the tier recorded with the call when the tier
-- table knows it, else the customer's tier at the call's instant (_m_tier_timeline), else the
-- default tier. Created by prepare_month with the month's _m_tier_timeline, which it reads.
CREATE OR REPLACE TEMP MACRO _m_calls(m_start, m_next) AS TABLE
SELECT e.customer_id AS customer, e.tool_name, e.ts, e.status,
       coalesce(recorded.name, tl.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier
FROM usage_events e
LEFT JOIN _m_tiers recorded ON recorded.name = e.tier
LEFT JOIN _m_tier_timeline tl
       ON recorded.name IS NULL AND tl.customer = e.customer_id AND e.ts >= tl.valid_from AND e.ts < tl.valid_to
WHERE e.ts >= m_start AND e.ts < m_next;
