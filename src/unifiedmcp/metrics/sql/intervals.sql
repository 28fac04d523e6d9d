-- Paying intervals (metrics.md §4): maximal intervals during which a customer's MRR is > 0, i.e.
-- the union of the covered periods of its counted lines with a positive monthly amount; intervals
-- that touch (end == next start) are merged. `first` marks a customer's first paying interval.
CREATE OR REPLACE TEMP TABLE _m_intervals AS
WITH positive AS (
    SELECT customer, cover_start AS s, cover_end AS e,
           max(cover_end) OVER (PARTITION BY customer ORDER BY cover_start, cover_end
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM _m_lines
    WHERE counted AND mrr_x100 > 0
),
grouped AS (
    SELECT customer, s, e,
           sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY customer ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
    FROM positive
)
SELECT customer, grp, min(s) AS interval_start, max(e) AS interval_end, grp = 1 AS first
FROM grouped
GROUP BY customer, grp;
