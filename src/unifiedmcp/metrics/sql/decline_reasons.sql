-- Failed charges in M by outcome.reason, else failure_code, else "unknown" (metrics.md §5).
-- Parameters: $m_start, $m_next, $currency.
SELECT coalesce(outcome_reason, failure_code, 'unknown') AS reason, count(*) AS n
FROM charges
WHERE created >= $m_start AND created < $m_next AND currency = $currency AND status = 'failed'
GROUP BY 1
ORDER BY n DESC, reason;
