-- Ledger schema v4 (portable): the tier each metered call was admitted under (metrics.md §6, contract v2:
-- calls are judged against the tier in force when each was made). NULL on rows recorded before.
ALTER TABLE usage_events ADD COLUMN tier TEXT;
