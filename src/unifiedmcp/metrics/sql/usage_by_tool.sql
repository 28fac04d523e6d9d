-- Calls in M by the customer's tier at the end of M (_m_tier_at) and by tool; billable = ok, and
-- interrupted calls (admitted, never seen ending) are counted apart. Parameters: $m_start, $m_next.
SELECT coalesce(t.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier,
       e.tool_name,
       count(*)                                  AS calls,
       count(*) FILTER (WHERE e.status = 'ok')   AS billable_calls,
       count(*) FILTER (WHERE e.status = 'error') AS errors,
       count(*) FILTER (WHERE e.status = 'interrupted') AS interrupted,
       count(*) FILTER (WHERE e.status = 'rejected') AS rejected,
       count(DISTINCT e.customer_id)             AS customers
FROM usage_events e LEFT JOIN _m_tier_at t ON t.customer = e.customer_id
WHERE e.ts >= $m_start AND e.ts < $m_next
GROUP BY 1, 2
ORDER BY 1, 3 DESC, 2;
