-- Each customer's MRR at the end of M-1 (a) and of M (b), in hundredths of the minor unit, and its
-- movement in M (metrics.md §3): new, reactivation, expansion, contraction, churned, or none.
-- A line covers the end of a month when cover_start < boundary <= cover_end.
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
SELECT ab.customer, ab.a, ab.b,
       CASE WHEN a = 0 AND b > 0 AND seen.customer IS NULL THEN 'new'
            WHEN a = 0 AND b > 0 THEN 'reactivation'
            WHEN a > 0 AND b = 0 THEN 'churned'
            WHEN a > 0 AND b > a THEN 'expansion'
            WHEN b > 0 AND a > b THEN 'contraction'
            ELSE 'none' END AS movement
FROM ab LEFT JOIN seen ON seen.customer = ab.customer;
