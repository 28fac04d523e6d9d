-- What the report leaves out (metrics.md §7 `excluded`). other_currency_lines: lines that would
-- count but are in another currency (a line counted on pieces is one line), covering any instant
-- of M's boundaries window (cover_start < M_next and cover_end >= M_start). malformed_usage_rows
-- and truncated_lists are warehouse-wide: such rows have no reliable month.
-- Parameters: $m_start, $m_next, $currency.
SELECT
    (SELECT count(DISTINCT id) FROM revenue_lines
     WHERE currency IS DISTINCT FROM $currency AND cover_start < $m_next AND cover_end >= $m_start) AS other_currency_lines,
    (SELECT count(*) FROM usage_rejects)   AS malformed_usage_rows,
    (SELECT count(*) FROM truncated_lists) AS truncated_lists;
