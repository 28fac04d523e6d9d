-- _m_calls(m_start, m_next): the calls in [m_start, m_next), one row per call, each with the tier
-- it is judged against (metrics.md §6, contract v2): the tier recorded with the call when the tier
-- table knows it, else the customer's tier at the call's instant (_m_tier_timeline), else the
-- default tier. Created by prepare_month with the month's _m_tier_timeline, which it reads.
-- Calls are the raw usage events from the roll-up horizon on, and before it the daily totals that
-- retention made of older events (usage_daily, expanded back to one row per call and dated at the
-- day's start, so every reader counts them as it counted the events; docs/privacy.md).
CREATE OR REPLACE TEMP MACRO _m_calls(m_start, m_next) AS TABLE
WITH calls AS (
    SELECT customer_id, tool_name, ts, status, tier
    FROM usage_events
    WHERE ts >= m_start AND ts < m_next
      AND ts >= (SELECT coalesce(max(CAST(value AS TIMESTAMP)), '-infinity'::TIMESTAMP)
                 FROM sync_state WHERE key = 'usage_rollup_horizon')
    UNION ALL
    SELECT d.customer_id, d.tool_name, d.day, d.status, d.tier
    FROM usage_daily d, range(d.calls)
    WHERE d.day >= m_start AND d.day < m_next
)
SELECT e.customer_id AS customer, e.tool_name, e.ts, e.status,
       coalesce(recorded.name, tl.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier
FROM calls e
LEFT JOIN _m_tiers recorded ON recorded.name = e.tier
LEFT JOIN _m_tier_timeline tl
       ON recorded.name IS NULL AND tl.customer = e.customer_id AND e.ts >= tl.valid_from AND e.ts < tl.valid_to;
