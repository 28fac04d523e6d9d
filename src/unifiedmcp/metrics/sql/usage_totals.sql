-- Usage in [$m_start, $m_next) (metrics.md §6/§7): calls, billable (status ok) calls, calls a hard
-- limit rejected, customers with calls. Raw events from the roll-up horizon on, daily totals
-- before it (as in calls.sql). Parameters: $m_start, $m_next.
WITH calls AS (
    SELECT customer_id, status, 1 AS calls
    FROM usage_events
    WHERE ts >= $m_start AND ts < $m_next
      AND ts >= (SELECT coalesce(max(CAST(value AS TIMESTAMP)), '-infinity'::TIMESTAMP)
                 FROM sync_state WHERE key = 'usage_rollup_horizon')
    UNION ALL
    SELECT customer_id, status, calls FROM usage_daily WHERE day >= $m_start AND day < $m_next
)
SELECT CAST(coalesce(sum(calls), 0) AS BIGINT) AS calls,
       CAST(coalesce(sum(calls) FILTER (WHERE status = 'ok'), 0) AS BIGINT) AS billable_calls,
       CAST(coalesce(sum(calls) FILTER (WHERE status = 'rejected'), 0) AS BIGINT) AS rejected_calls,
       count(DISTINCT customer_id) AS customers
FROM calls;
