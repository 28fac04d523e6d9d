-- Subscriber counts for month M from the paying intervals (metrics.md §4).
-- Parameters: $m_start, $m_next, $currency.
WITH i AS (
    SELECT *,
           interval_start >= $m_start AND interval_start < $m_next AS starts_in_m,
           interval_end >= $m_start AND interval_end < $m_next     AS ends_in_m
    FROM paying_intervals
    WHERE currency = $currency AND interval_start < $m_next AND interval_end >= $m_start
),
churned_then_back AS (
    SELECT DISTINCT a.customer
    FROM i a JOIN i b ON a.customer = b.customer
    WHERE a.ends_in_m AND b.starts_in_m AND b.interval_start > a.interval_end
)
SELECT
    count(*) FILTER (WHERE interval_start < $m_start AND interval_end >= $m_start) AS start,
    count(*) FILTER (WHERE starts_in_m AND first)                              AS new,
    count(*) FILTER (WHERE starts_in_m AND NOT first)                          AS reactivated,
    count(*) FILTER (WHERE ends_in_m)                                          AS churned,
    count(*) FILTER (WHERE interval_start < $m_next AND interval_end >= $m_next) AS "end",
    count(*) FILTER (WHERE starts_in_m AND ends_in_m)                          AS joined_and_churned,
    (SELECT count(*) FROM churned_then_back)                                   AS churned_and_reactivated
FROM i;
