-- Subscriptions live at $at as the warehouse's snapshot tells: started before it, not ended by it,
-- and not an incomplete first payment. Parameters: $at.
SELECT count(*) AS live
FROM subscriptions
WHERE coalesce(start_date, created) < $at AND (ended_at IS NULL OR ended_at > $at)
  AND status NOT IN ('incomplete', 'incomplete_expired');
