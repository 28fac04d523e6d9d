-- Subscriptions that ended in M, by cancellation reason (metrics.md §4). Parameters: $m_start, $m_next.
SELECT
    count(*) FILTER (WHERE cancellation_reason IS NULL
                        OR cancellation_reason NOT IN ('payment_failed', 'payment_disputed')) AS voluntary,
    count(*) FILTER (WHERE cancellation_reason IN ('payment_failed', 'payment_disputed'))     AS involuntary
FROM subscriptions
WHERE ended_at >= $m_start AND ended_at < $m_next;
