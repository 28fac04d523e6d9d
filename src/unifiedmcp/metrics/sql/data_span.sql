-- When the data starts and how far it runs, per kind (default month ranges, the report's data
-- gate, alerts): Stripe objects (invoice line periods, invoices, charges, events) and usage.
SELECT least((SELECT min(period_start) FROM invoice_lines), (SELECT min(created) FROM invoices),
             (SELECT min(created) FROM charges), (SELECT min(ts) FROM usage_events)) AS first,
       greatest((SELECT max(created) FROM invoices), (SELECT max(created) FROM charges),
                (SELECT max(created) FROM events))                                   AS stripe_last,
       (SELECT max(ts) FROM usage_events)                                            AS usage_last;
