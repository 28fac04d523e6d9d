-- Rejected calls in M (past a hard limit) per customer and the tier they were made on (metrics'
-- _m_calls), with the first and last rejection. Parameters: $m_start, $m_next.
SELECT customer,
       tier,
       count(*) AS rejected,
       min(ts)  AS first_rejected_at,
       max(ts)  AS last_rejected_at
FROM _m_calls($m_start, $m_next)
WHERE status = 'rejected'
GROUP BY 1, 2
ORDER BY rejected DESC, customer;
