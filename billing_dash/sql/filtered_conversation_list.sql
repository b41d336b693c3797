-- Every conversation with a message of the kept agents, models and tag values in the period, one
-- page in the order :sort names: its filtered in-period usage (read as filtered_conversation_stats
-- reads it), its whole life's first and last message, title and agent. Ties as conversation_list.sql.
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
-- param sort: text
-- param limit: int
-- param offset: int
-- column first_ts: utc
-- column last_ts: utc
-- column cost: money
WITH listed AS (
    SELECT u.conversation_id, SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost,
           SUM(u.message_count) AS message_count
    FROM (
        SELECT d.conversation_id, d.total_tokens, d.cost, d.message_count
        FROM conversation_daily d
        WHERE :all_tags = 1 AND d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
          AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
        UNION ALL
        SELECT d.conversation_id, d.total_tokens, d.cost, d.message_count
        FROM tag_conversation_daily d
        WHERE :all_tags = 0 AND d.organization_id = :org_id AND d.tag_key = :tag_key AND d.tag_value IN :tag_values
          AND d.day >= :day_from AND d.day <= :day_to
          AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
        UNION ALL
        SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
          AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
          AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
        UNION ALL
        SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
          AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
          AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
    ) u
    GROUP BY u.conversation_id
), page AS (
    -- The page before the totals and names: they are looked up for its rows only (a conversation's
    -- last message, for sort 'last', for each one).
    SELECT l.conversation_id, l.total_tokens, l.cost, l.message_count,
           CASE WHEN :sort = 'last' THEN (
               SELECT t.last_ts FROM conversation_totals t
               WHERE t.organization_id = :org_id AND t.conversation_id = l.conversation_id AND t.agent_id = ''
           ) END AS last_ts
    FROM listed l
    ORDER BY last_ts DESC,
             CASE WHEN :sort = 'messages' THEN l.message_count END DESC,
             CASE WHEN :sort = 'tokens' THEN l.total_tokens END DESC,
             l.cost DESC, l.total_tokens DESC, l.conversation_id COLLATE "C"
    LIMIT :limit OFFSET :offset
)
SELECT l.conversation_id, COALESCE(n.title, l.conversation_id) AS title, COALESCE(n.agent_id, '') AS agent_id,
       t.first_ts, t.last_ts, l.total_tokens, l.cost AS cost, l.message_count
FROM page l
JOIN conversation_totals t
  ON t.organization_id = :org_id AND t.conversation_id = l.conversation_id AND t.agent_id = ''
LEFT JOIN conversations n ON n.organization_id = :org_id AND n.id = l.conversation_id
ORDER BY l.last_ts DESC,
         CASE WHEN :sort = 'messages' THEN l.message_count END DESC,
         CASE WHEN :sort = 'tokens' THEN l.total_tokens END DESC,
         l.cost DESC, l.total_tokens DESC, l.conversation_id COLLATE "C"
