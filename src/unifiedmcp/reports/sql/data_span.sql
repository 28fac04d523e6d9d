-- The first and last instants with data (invoices, charges, usage events).
SELECT least((SELECT min(created) FROM invoices), (SELECT min(created) FROM charges),
             (SELECT min(ts) FROM usage_events))    AS first,
       greatest((SELECT max(created) FROM invoices), (SELECT max(created) FROM charges),
                (SELECT max(ts) FROM usage_events)) AS last;
