-- MRR at the end of M-1 and of M, and the movements between them (metrics.md §3), in hundredths
-- of the minor unit: the sums of customer_mrr.sql, which is nested in the FROM clause.
-- Parameters: $m_start, $m_next, $currency.
SELECT
    coalesce(sum(a), 0)                                         AS mrr_start,
    coalesce(sum(b), 0)                                         AS mrr_end,
    coalesce(sum(b) FILTER (WHERE movement = 'new'), 0)          AS new,
    coalesce(sum(b) FILTER (WHERE movement = 'reactivation'), 0) AS reactivation,
    coalesce(sum(b - a) FILTER (WHERE movement = 'expansion'), 0) AS expansion,
    coalesce(sum(a - b) FILTER (WHERE movement = 'contraction'), 0) AS contraction,
    coalesce(sum(a) FILTER (WHERE movement = 'churned'), 0)     AS churned
FROM ({customers});
