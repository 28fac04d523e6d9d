-- Per customer, its subscriptions that ended in M (metrics.md §4 churn reasons): the last one's
-- end and cancellation reason, and whether that makes it involuntary (payment_failed or
-- payment_disputed). Parameters: $m_start, $m_next.
SELECT customer,
       max(ended_at)                                           AS ended_at,
       arg_max(coalesce(cancellation_reason, 'unknown'), ended_at) AS reason,
       CASE WHEN arg_max(cancellation_reason, ended_at) IN ('payment_failed', 'payment_disputed')
            THEN 'involuntary' ELSE 'voluntary' END           AS kind
FROM subscriptions
WHERE ended_at >= $m_start AND ended_at < $m_next
GROUP BY customer;
