-- Usage in [$m_start, $m_next) (metrics.md §6/§7): calls, billable (status ok) calls, calls a hard
-- limit rejected, customers with calls. Parameters: $m_start, $m_next.
SELECT count(*) AS calls, count(*) FILTER (WHERE status = 'ok') AS billable_calls,
       count(*) FILTER (WHERE status = 'rejected') AS rejected_calls,
       count(DISTINCT customer_id) AS customers
FROM usage_events
WHERE ts >= $m_start AND ts < $m_next;
