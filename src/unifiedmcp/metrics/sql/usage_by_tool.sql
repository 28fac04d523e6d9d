-- Calls in M by the tier each was made on (_m_calls, metrics.md §6 contract v2) and by tool;
-- billable = ok, and interrupted calls (admitted, never seen ending) are counted apart.
-- Parameters: $m_start, $m_next.
SELECT tier,
       tool_name,
       count(*)                                 AS calls,
       count(*) FILTER (WHERE status = 'ok')    AS billable_calls,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
       count(*) FILTER (WHERE status = 'rejected') AS rejected,
       count(DISTINCT customer)                 AS customers
FROM _m_calls($m_start, $m_next)
GROUP BY 1, 2
ORDER BY 1, 3 DESC, 2;
