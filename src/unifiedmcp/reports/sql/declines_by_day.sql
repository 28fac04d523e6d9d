-- Failed charges per UTC day in M by reason: outcome.reason, else failure_code, else "unknown"
-- (the same rule as metrics.md §5). Parameters: $m_start, $m_next, $currency.
SELECT CAST(date_trunc('day', created) AS DATE)        AS day,
       coalesce(outcome_reason, failure_code, 'unknown') AS reason,
       count(*)                                          AS failed
FROM charges
WHERE created >= $m_start AND created < $m_next AND currency = $currency AND status = 'failed'
GROUP BY 1, 2
ORDER BY 1, 2;
