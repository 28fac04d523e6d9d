-- Each customer's tier at the end of M (metrics.md §6): the timeline's tier covering the instant
-- just before M_next (valid_from < M_next <= valid_to); none means the default tier.
-- Parameters: $m_next.
CREATE OR REPLACE TEMP TABLE _m_tier_at AS
SELECT customer, tier
FROM _m_tier_timeline
WHERE valid_from < $m_next AND valid_to >= $m_next;
