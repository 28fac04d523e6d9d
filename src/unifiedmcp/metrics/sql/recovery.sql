-- Recovery (metrics.md §5): invoices whose first payment attempt (earliest linked charge, see the
-- warehouse's invoice_attempts) failed, that attempt being in M. Parameters: $m_start, $m_next, $currency.
SELECT
    coalesce(sum(i.amount_due), 0)                                    AS failed_invoice_amount,
    coalesce(sum(i.amount_paid) FILTER (WHERE i.status = 'paid'), 0)  AS recovered_amount
FROM invoice_attempts a JOIN invoices i ON i.id = a.invoice
WHERE a.first_status = 'failed' AND a.first_created >= $m_start AND a.first_created < $m_next
  AND i.currency = $currency;
