-- Usage in M (metrics.md §6/§7): calls, billable (status ok) calls, customers with calls.
-- Parameters: $m_start, $m_next.
SELECT count(*) AS calls, count(*) FILTER (WHERE status = 'ok') AS billable_calls,
       count(DISTINCT customer_id) AS customers
FROM usage_events
WHERE ts >= $m_start AND ts < $m_next;
