-- Deliveries refused before storage, by reason (SQLite or PostgreSQL). The ledger keeps only running totals and
-- the last time per reason, so this is all-time, not per month.
SELECT reason, count, last_at FROM webhook_rejections ORDER BY count DESC, reason;
