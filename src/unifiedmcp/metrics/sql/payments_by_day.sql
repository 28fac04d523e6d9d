-- Charges per UTC day in [$from, $to) in the report currency, with the counts behind the success
-- and authorization rates of metrics.md §5. Parameters: $from, $to, $currency.
SELECT CAST(date_trunc('day', created) AS DATE)                       AS day,
       count(*)                                                        AS attempts,
       count(*) FILTER (WHERE status = 'succeeded')                    AS succeeded,
       count(*) FILTER (WHERE status = 'failed')                       AS failed,
       count(*) FILTER (WHERE outcome_type = 'authorized')             AS authorized,
       count(*) FILTER (WHERE outcome_type IN ('authorized', 'issuer_declined')) AS authorization_attempts,
       coalesce(sum(amount) FILTER (WHERE status = 'succeeded'), 0)    AS succeeded_amount,
       coalesce(sum(amount) FILTER (WHERE status = 'failed'), 0)       AS failed_amount
FROM charges
WHERE created >= $from AND created < $to AND currency = $currency
GROUP BY 1
ORDER BY 1;
