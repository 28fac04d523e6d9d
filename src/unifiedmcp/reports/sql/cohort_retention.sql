-- Monthly cohort retention from the warehouse's paying intervals (metrics.md §4): a customer's
-- cohort is the month its first paying interval starts; it is retained at age k when it is an
-- active subscriber at the end of cohort month + k (an interval covers the instant just before
-- that month's end). Cohorts start in [$from, $to); ages run while cohort + k < $to.
-- Parameters: $from, $to (month starts), $currency.
WITH intervals AS (
    SELECT customer, interval_start, interval_end, first
    FROM paying_intervals
    WHERE currency = $currency
),
cohorts AS (
    SELECT customer, CAST(date_trunc('month', interval_start) AS TIMESTAMP) AS cohort
    FROM intervals
    WHERE first AND interval_start >= $from AND interval_start < $to
),
ages AS (
    SELECT c.cohort, c.customer, k.age,
           c.cohort + to_months(CAST(k.age + 1 AS INTEGER)) AS age_end
    FROM cohorts c,
         range(0, CAST(date_diff('month', CAST($from AS TIMESTAMP), CAST($to AS TIMESTAMP)) AS BIGINT)) AS k(age)
    WHERE c.cohort + to_months(CAST(k.age AS INTEGER)) < $to
)
SELECT strftime(a.cohort, '%Y-%m')                                AS cohort,
       a.age,
       count(DISTINCT a.customer)                                  AS cohort_size,
       count(DISTINCT a.customer) FILTER (WHERE EXISTS (
           SELECT 1 FROM intervals i
           WHERE i.customer = a.customer AND i.interval_start < a.age_end AND i.interval_end >= a.age_end
       ))                                                          AS retained
FROM ages a
GROUP BY a.cohort, a.age
ORDER BY a.cohort, a.age;
