-- The conversation figures of a filtered report, counted and ranked here so that only a few rows
-- leave the database (a year of the busiest agent at 10M events has 27,643 conversations): per
-- kept agent (`agent`) and in all (`all`) the conversations with a kept message in the period, and
-- the :limit costliest (`top`; ties: tokens, then id in code point order, as services/billing.py
-- sorts). Each conversation's usage per agent comes from conversation_daily (whole days of the
-- organization's zone, kept per conversation, agent and model; with a tag filter
-- tag_conversation_daily, kept so per value of each pre-aggregated tag key) and the partial edge
-- days' events.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
-- param all_tags: int
-- param tag_key: text
-- param tag_values: list
-- param limit: int
-- column cost: money
WITH parts AS (
    SELECT u.conversation_id, u.agent_id, SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost,
           SUM(u.message_count) AS message_count
    FROM (
        SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
        FROM conversation_daily d
        WHERE :all_tags = 1 AND d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
          AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
        UNION ALL
        SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
        FROM tag_conversation_daily d
        WHERE :all_tags = 0 AND d.organization_id = :org_id AND d.tag_key = :tag_key AND d.tag_value IN :tag_values
          AND d.day >= :day_from AND d.day <= :day_to
          AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
        UNION ALL
        SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
          AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
          AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
        UNION ALL
        SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
          AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
          AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
    ) u
    GROUP BY u.conversation_id, u.agent_id
), whole AS (
    SELECT p.conversation_id, SUM(p.total_tokens) AS total_tokens, SUM(p.cost) AS cost,
           SUM(p.message_count) AS message_count
    FROM parts p
    GROUP BY p.conversation_id
)
-- The top rows first: their types are the result's (PostgreSQL types a NULL by the branch before it).
SELECT t.kind, t.conversation_id AS id, NULL AS conversations, t.total_tokens, t.cost, t.message_count
FROM (
    SELECT 'top' AS kind, w.conversation_id, w.total_tokens, w.cost, w.message_count
    FROM whole w
    ORDER BY w.cost DESC, w.total_tokens DESC, w.conversation_id COLLATE "C"
    LIMIT :limit
) t
UNION ALL
SELECT 'agent', p.agent_id, COUNT(*), NULL, NULL, NULL
FROM parts p
GROUP BY p.agent_id
UNION ALL
SELECT 'all', '', COUNT(*), NULL, NULL, NULL
FROM whole
