-- When the data starts and how far it runs, per kind (default month ranges, the report's data
-- gate, alerts): billing objects (invoice line periods, invoices, charges, and events about
-- customers, subscriptions, invoices and payments) and usage (raw events, and the daily totals
-- retention rolled up, which are older than every raw event). Catalog and test-clock events say
-- nothing about how far the billing data runs (and carry wall-clock times on test clocks).
SELECT least((SELECT min(period_start) FROM invoice_lines), (SELECT min(created) FROM invoices),
             (SELECT min(created) FROM charges), (SELECT min(ts) FROM usage_events),
             (SELECT min(day) FROM usage_daily))                                     AS first,
       greatest((SELECT max(created) FROM invoices), (SELECT max(created) FROM charges),
                (SELECT max(created) FROM events
                 WHERE object_type NOT IN ('product', 'price', 'plan', 'coupon', 'promotion_code')
                   AND object_type NOT LIKE 'test_helpers.%'))              AS stripe_last,
       greatest((SELECT max(ts) FROM usage_events), (SELECT max(day) FROM usage_daily)) AS usage_last;
