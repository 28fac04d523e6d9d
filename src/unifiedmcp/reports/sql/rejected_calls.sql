-- Rejected calls in M per customer (past a hard limit), with the first and last rejection.
-- Parameters: $m_start, $m_next.
SELECT customer_id AS customer,
       count(*)    AS rejected,
       min(ts)     AS first_rejected_at,
       max(ts)     AS last_rejected_at
FROM usage_events
WHERE ts >= $m_start AND ts < $m_next AND status = 'rejected'
GROUP BY 1
ORDER BY rejected DESC, customer;
