-- Calls per UTC day in M by the tier each was made on (metrics' _m_calls, metrics.md §6 contract
-- v2) and by status. Parameters: $m_start, $m_next.
SELECT CAST(date_trunc('day', ts) AS DATE)        AS day,
       tier,
       count(*)                                    AS calls,
       count(*) FILTER (WHERE status = 'ok')       AS billable_calls,
       count(*) FILTER (WHERE status = 'error')    AS errors,
       count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
       count(*) FILTER (WHERE status = 'rejected') AS rejected
FROM _m_calls($m_start, $m_next)
GROUP BY 1, 2
ORDER BY 1, 2;
