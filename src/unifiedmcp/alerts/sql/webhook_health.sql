-- Webhook health from the ledger's event log (SQLite or PostgreSQL), for events received in [:from, :to): counts
-- by status, the latest successful and the latest received event before :to, and the
-- subscriptions the ledger's mirror holds live (active, trialing or past_due).
-- Times are ISO-8601 UTC text ('YYYY-MM-DDTHH:MM:SS.ffffffZ'), so text comparison orders them.
SELECT
    count(*)                                                     AS received,
    count(*) FILTER (WHERE status = 'applied')                   AS applied,
    count(*) FILTER (WHERE status = 'ignored')                   AS ignored,
    count(*) FILTER (WHERE status = 'failed')                    AS failed,
    count(*) FILTER (WHERE status = 'received')                  AS pending,
    count(replayed_at)                                           AS replayed,
    (SELECT max(processed_at) FROM webhook_events
      WHERE status = 'applied' AND processed_at < :to)           AS last_success_at,
    (SELECT max(received_at) FROM webhook_events
      WHERE received_at < :to)                                   AS last_received_at,
    (SELECT count(*) FROM subscriptions
      WHERE status IN ('active', 'trialing', 'past_due'))        AS live_subscriptions
FROM webhook_events
WHERE received_at >= :from AND received_at < :to;
