-- Webhook events received per UTC day in [:from, :to) by processing status (SQLite or PostgreSQL).
SELECT substr(received_at, 1, 10) AS day, status, count(*) AS events
FROM webhook_events
WHERE received_at >= :from AND received_at < :to
GROUP BY 1, 2
ORDER BY 1, 2;
