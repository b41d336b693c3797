-- The usage of each conversation per agent in the period, for a tag filter without a model filter:
-- whole days of the organization's zone from tag_conversation_daily (kept per tag value, day,
-- conversation and agent), the partial edge days from the events; no scan of the period's events.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- param all_agents: int
-- param agents: list
-- param tag_key: text
-- param tag_values: list
-- column cost: money
SELECT u.conversation_id, u.agent_id, SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost,
       SUM(u.message_count) AS message_count
FROM (
    SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
    FROM tag_conversation_daily d
    WHERE d.organization_id = :org_id AND d.tag_key = :tag_key AND d.tag_value IN :tag_values
      AND d.day >= :day_from AND d.day <= :day_to
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
      AND tag_value(e.tags, :tag_key) IN :tag_values
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
      AND tag_value(e.tags, :tag_key) IN :tag_values
) u
WHERE :all_agents = 1 OR u.agent_id IN :agents
GROUP BY u.conversation_id, u.agent_id
