-- The first and last instants with data (invoice lines, charges, usage), for default month ranges.
SELECT least((SELECT min(period_start) FROM invoice_lines), (SELECT min(created) FROM charges),
             (SELECT min(ts) FROM usage_events)) AS first,
       greatest((SELECT max(created) FROM invoices), (SELECT max(created) FROM charges),
                (SELECT max(ts) FROM usage_events)) AS last;
