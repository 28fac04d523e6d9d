-- Calls per UTC day and customer in M by status (the tier is joined from metrics' per-customer
-- usage). Parameters: $m_start, $m_next.
SELECT CAST(date_trunc('day', ts) AS DATE)        AS day,
       customer_id                                 AS customer,
       count(*)                                    AS calls,
       count(*) FILTER (WHERE status = 'ok')       AS billable_calls,
       count(*) FILTER (WHERE status = 'error')    AS errors,
       count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
       count(*) FILTER (WHERE status = 'rejected') AS rejected
FROM usage_events
WHERE ts >= $m_start AND ts < $m_next
GROUP BY 1, 2
ORDER BY 1, 2;
