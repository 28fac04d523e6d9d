-- Per customer, as of the end of M: invoices past due (finalized before M_next, first payment
-- attempt failed before M_next, neither paid nor voided by M_next: metrics.md §5's attempts) and
-- the failed charges in M with the latest one's reason (outcome.reason, else failure_code, else
-- "unknown", as in §5). Parameters: $m_start, $m_next, $currency.
WITH past_due AS (
    SELECT i.customer, sum(i.amount_due) AS past_due_amount, count(*) AS past_due_invoices
    FROM invoices i JOIN invoice_attempts a ON a.invoice = i.id
    WHERE i.currency = $currency AND i.created < $m_next AND i.status <> 'draft'
      AND a.first_status = 'failed' AND a.first_created < $m_next
      AND (i.paid_at IS NULL OR i.paid_at >= $m_next) AND (i.voided_at IS NULL OR i.voided_at >= $m_next)
      AND NOT (i.status = 'void' AND i.voided_at IS NULL)
    GROUP BY i.customer
),
failed AS (
    SELECT customer, count(*) AS failed_payments,
           arg_max(coalesce(outcome_reason, failure_code, 'unknown'), (created, id)) AS last_decline
    FROM charges
    WHERE status = 'failed' AND currency = $currency AND created >= $m_start AND created < $m_next
    GROUP BY customer
)
SELECT coalesce(p.customer, f.customer) AS customer,
       coalesce(p.past_due_amount, 0)   AS past_due_amount,
       coalesce(p.past_due_invoices, 0) AS past_due_invoices,
       coalesce(f.failed_payments, 0)   AS failed_payments,
       f.last_decline
FROM past_due p FULL JOIN failed f ON f.customer = p.customer;
