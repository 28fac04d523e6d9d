-- Lists inside objects that Stripe cut short (has_more: true): their totals are incomplete.
CREATE OR REPLACE VIEW truncated_lists AS
SELECT 'invoice' AS object_type, id, 'lines' AS list FROM invoices WHERE lines_has_more
UNION ALL
SELECT 'subscription', id, 'items' FROM subscriptions WHERE items_has_more;
