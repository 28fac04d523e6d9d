-- MRR at the end of M-1 and of M, and the movements between them (metrics.md §3), in hundredths
-- of the minor unit. A line covers the end of a month when cover_start < boundary <= cover_end.
-- Parameters: $m_start, $m_next, $currency.
WITH a AS (
    SELECT customer, sum(mrr_x100) AS a FROM revenue_lines
    WHERE currency = $currency AND cover_start < $m_start AND cover_end >= $m_start GROUP BY customer
),
b AS (
    SELECT customer, sum(mrr_x100) AS b FROM revenue_lines
    WHERE currency = $currency AND cover_start < $m_next AND cover_end >= $m_next GROUP BY customer
),
ab AS (
    SELECT coalesce(a.customer, b.customer) AS customer, coalesce(a.a, 0) AS a, coalesce(b.b, 0) AS b
    FROM a FULL JOIN b ON a.customer = b.customer
),
seen AS (
    SELECT DISTINCT customer FROM paying_intervals WHERE currency = $currency AND interval_start < $m_start
)
SELECT
    coalesce(sum(a), 0)                                                         AS mrr_start,
    coalesce(sum(b), 0)                                                         AS mrr_end,
    coalesce(sum(b) FILTER (WHERE a = 0 AND b > 0 AND seen.customer IS NULL), 0)     AS new,
    coalesce(sum(b) FILTER (WHERE a = 0 AND b > 0 AND seen.customer IS NOT NULL), 0) AS reactivation,
    coalesce(sum(b - a) FILTER (WHERE a > 0 AND b > a), 0)                      AS expansion,
    coalesce(sum(a - b) FILTER (WHERE b > 0 AND a > b), 0)                      AS contraction,
    coalesce(sum(a) FILTER (WHERE a > 0 AND b = 0), 0)                          AS churned
FROM ab LEFT JOIN seen ON seen.customer = ab.customer;
