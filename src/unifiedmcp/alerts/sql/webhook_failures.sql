-- The latest failed webhook events received in [:from, :to) (SQLite or PostgreSQL). Errors are handler messages,
-- stored without secrets by the receiver.
SELECT event_id, type, object_id, attempts, received_at, processed_at, error
FROM webhook_events
WHERE status = 'failed' AND received_at >= :from AND received_at < :to
ORDER BY received_at DESC
LIMIT :limit;
