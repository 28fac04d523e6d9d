-- Helpers for the typed tables; created as temporary macros on every connection.

-- An expandable Stripe field: an id string or an expanded object -> the id.
CREATE OR REPLACE TEMP MACRO json_id(j) AS
    CASE json_type(j) WHEN 'OBJECT' THEN j ->> 'id' WHEN 'VARCHAR' THEN j ->> '$' ELSE NULL END;

-- Unix seconds (number or numeric text) -> naive UTC TIMESTAMP.
CREATE OR REPLACE TEMP MACRO epoch_ts(s) AS
    make_timestamp(CAST(TRY_CAST(s AS DOUBLE) AS BIGINT) * 1000000);

-- A Stripe list ({"data": [...]}) or a bare JSON array -> JSON[].
CREATE OR REPLACE TEMP MACRO json_items(j) AS
    CASE json_type(j)
        WHEN 'ARRAY' THEN CAST(j AS JSON[])
        WHEN 'OBJECT' THEN CAST(j -> 'data' AS JSON[])
        ELSE CAST([] AS JSON[])
    END;

-- A line's monthly amount (metrics.md §3) in hundredths of the minor unit, rounded half away
-- from zero: month -> x / n; year -> x / (12 n); week -> x * 52 / (12 n); day -> x * 365 / (12 n).
-- Integer arithmetic, so sums are exact and the §3 identity holds to the last digit.
CREATE OR REPLACE TEMP MACRO mrr_num(interval) AS
    CASE interval WHEN 'week' THEN 52 WHEN 'day' THEN 365 ELSE 1 END;
CREATE OR REPLACE TEMP MACRO mrr_den(interval, n) AS
    CASE interval WHEN 'month' THEN 1 ELSE 12 END * greatest(coalesce(n, 1), 1);
CREATE OR REPLACE TEMP MACRO monthly_x100(x, interval, n) AS
    CAST(sign(x) * ((2 * abs(x)::BIGINT * mrr_num(interval) * 100 + mrr_den(interval, n))
                    // (2 * mrr_den(interval, n))) AS BIGINT);
-- The same for the amount x_num / x_den (x_den > 0): a positive proration's full amount less its
-- share of discount, full * net / gross (metrics.md §3, contract v2), without rounding it first.
CREATE OR REPLACE TEMP MACRO monthly_x100_ratio(x_num, x_den, interval, n) AS
    CAST(sign(x_num) * ((2 * abs(x_num)::HUGEINT * mrr_num(interval) * 100 + mrr_den(interval, n) * x_den)
                        // (2 * mrr_den(interval, n) * x_den)) AS BIGINT);
