-- Paying intervals (metrics.md §4), per currency: maximal intervals during which a customer's MRR
-- is > 0, i.e. the union of the covered periods of its revenue lines with a positive monthly
-- amount; intervals that touch (end == next start) merge. `first` marks a customer's first one.
CREATE OR REPLACE TABLE paying_intervals AS
WITH positive AS (
    SELECT currency, customer, cover_start AS s, cover_end AS e,
           max(cover_end) OVER (PARTITION BY currency, customer ORDER BY cover_start, cover_end
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM revenue_lines
    WHERE mrr_x100 > 0
),
grouped AS (
    SELECT currency, customer, s, e,
           sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY currency, customer ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
    FROM positive
)
SELECT currency, customer, grp, min(s) AS interval_start, max(e) AS interval_end, grp = 1 AS first
FROM grouped
GROUP BY currency, customer, grp
ORDER BY interval_start;
