-- Every conversation with a message of the given tag values (and agents, if any) in the period, for
-- a tag filter without a model filter, one page in the order :sort names: its usage in it as
-- tag_conversation_parts reads it, its whole life's first and last message, title and agent. Ties
-- as conversation_list.sql.
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
    GROUP BY u.conversation_id
)
SELECT l.conversation_id, COALESCE(n.title, l.conversation_id) AS title, COALESCE(n.agent_id, '') AS agent_id,
       t.first_ts, t.last_ts, l.total_tokens, l.cost AS cost, l.message_count
FROM listed l
JOIN conversation_totals t
  ON t.organization_id = :org_id AND t.conversation_id = l.conversation_id AND t.agent_id = ''
LEFT JOIN conversations n ON n.organization_id = :org_id AND n.id = l.conversation_id
ORDER BY CASE WHEN :sort = 'last' THEN t.last_ts END DESC,
         CASE WHEN :sort = 'messages' THEN l.message_count END DESC,
         CASE WHEN :sort = 'tokens' THEN l.total_tokens END DESC,
         l.cost DESC, l.total_tokens DESC, l.conversation_id COLLATE "C"
LIMIT :limit OFFSET :offset
