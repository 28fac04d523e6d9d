-- Payment attempts per invoice (metrics.md §5): charges reach invoices through their payment
-- intent (current invoice.payments, or the old top-level invoice.payment_intent) or directly
-- (old invoice.charge). `first_*` describe the earliest linked charge (ties: smallest id).
CREATE OR REPLACE TABLE invoice_attempts AS
WITH links AS (
    SELECT ip.invoice, c.id AS charge, c.created, c.status
    FROM invoice_payments ip JOIN charges c ON c.payment_intent = ip.payment_intent
    UNION
    SELECT ip.invoice, c.id, c.created, c.status
    FROM invoice_payments ip JOIN charges c ON c.id = ip.charge
)
SELECT invoice,
       count(*)                          AS attempts,
       min(created)                      AS first_created,
       arg_min(status, (created, charge)) AS first_status,
       arg_min(charge, (created, charge)) AS first_charge
FROM links
GROUP BY invoice
ORDER BY first_created;
