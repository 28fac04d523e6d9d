-- Overage billed through Stripe meters (metrics.md §6 contract v2, "Billed, not estimated"): the
-- amount of the invoice lines whose price is metered, on paid or open invoices, in the report
-- currency, counted in the month their period.end falls in (usage is invoiced in arrears).
-- Parameters: $m_start, $m_next, $currency.
SELECT coalesce(sum(l.amount - l.discount_amount), 0) AS overage_revenue
FROM invoice_lines l
JOIN invoices i ON i.id = l.invoice
JOIN price_catalog p ON p.id = l.price
WHERE p.usage_type = 'metered'
  AND i.status IN ('paid', 'open')
  AND coalesce(l.currency, i.currency) = $currency
  AND l.period_end >= $m_start AND l.period_end < $m_next;
