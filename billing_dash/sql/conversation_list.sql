-- Every conversation with a message (of agent :agent_id; '' all agents) in the period, one page in
-- the order :sort names, with its in-period usage (the agent's part of it) and its first and last
-- message (of its whole life: sort 'last' of one agent would order by its part's, and is left to
-- filtered_conversation_list.sql). Conversations lying wholly inside the period
-- count with their stored totals; the few crossing its edges (found as conversations_crossing
-- finds them) are summed over their in-period days and, in another zone than the organization's,
-- the events of the partial edge days. No scan of the period's events.
-- Ties: the other sums, then the id in code point order (services/conversations.py sorts so too).
-- param org_id: int
-- param agent_id: text
-- param span_start: utc
-- param start: utc
-- param end_span_start: utc
-- param end: utc
-- param day_from: date
-- param day_to: date
-- param full_start: utc
-- param full_end: utc
-- param sort: text
-- param limit: int
-- param offset: int
-- column first_ts: utc
-- column last_ts: utc
-- column cost: money
WITH crossing AS (
    SELECT t.conversation_id, t.first_ts, t.last_ts
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.agent_id = :agent_id
      AND t.first_ts >= :span_start AND t.first_ts < :start AND t.last_ts >= :start
    UNION
    SELECT t.conversation_id, t.first_ts, t.last_ts
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.agent_id = :agent_id
      AND t.first_ts >= :end_span_start AND t.first_ts < :end AND t.last_ts >= :end
), crossing_part AS (
    SELECT p.conversation_id, SUM(p.total_tokens) AS total_tokens, SUM(p.cost) AS cost,
           SUM(p.message_count) AS message_count
    FROM (
        SELECT d.conversation_id, d.total_tokens, d.cost, d.message_count
        FROM crossing c
        JOIN conversation_daily d
          ON d.organization_id = :org_id AND d.conversation_id = c.conversation_id
         AND d.day >= :day_from AND d.day <= :day_to AND (:agent_id = '' OR d.agent_id = :agent_id)
        UNION ALL
        SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        JOIN crossing c ON c.conversation_id = e.conversation_id
        WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
          AND (:agent_id = '' OR e.agent_id = :agent_id)
        UNION ALL
        SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
        FROM usage_events e
        JOIN crossing c ON c.conversation_id = e.conversation_id
        WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
          AND (:agent_id = '' OR e.agent_id = :agent_id)
    ) p
    GROUP BY p.conversation_id
), inside AS (
    -- A page of the union is a page of the union of the crossing conversations and of the first
    -- :limit + :offset inside, in the same order: the costliest are read off ix_conversation_totals_cost.
    SELECT t.conversation_id, t.first_ts, t.last_ts, t.total_tokens, t.cost, t.message_count
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.agent_id = :agent_id
      AND t.first_ts >= :start AND t.first_ts < :end AND t.last_ts < :end
    ORDER BY CASE WHEN :sort = 'last' THEN t.last_ts END DESC,
             CASE WHEN :sort = 'messages' THEN t.message_count END DESC,
             CASE WHEN :sort = 'tokens' THEN t.total_tokens END DESC,
             t.cost DESC, t.total_tokens DESC, t.conversation_id COLLATE "C"
    LIMIT :limit + :offset
), listed AS (
    SELECT i.conversation_id, i.first_ts, i.last_ts, i.total_tokens, i.cost, i.message_count
    FROM inside i
    UNION ALL
    SELECT c.conversation_id, c.first_ts, c.last_ts, p.total_tokens, p.cost, p.message_count
    FROM crossing c
    JOIN crossing_part p ON p.conversation_id = c.conversation_id
    WHERE p.message_count > 0
), page AS (
    -- The page before the names: a name is looked up for its rows only, not for every conversation.
    SELECT l.conversation_id, l.first_ts, l.last_ts, l.total_tokens, l.cost, l.message_count
    FROM listed l
    ORDER BY CASE WHEN :sort = 'last' THEN l.last_ts END DESC,
             CASE WHEN :sort = 'messages' THEN l.message_count END DESC,
             CASE WHEN :sort = 'tokens' THEN l.total_tokens END DESC,
             l.cost DESC, l.total_tokens DESC, l.conversation_id COLLATE "C"
    LIMIT :limit OFFSET :offset
)
SELECT l.conversation_id, COALESCE(n.title, l.conversation_id) AS title, COALESCE(n.agent_id, '') AS agent_id,
       w.first_ts, w.last_ts, l.total_tokens, l.cost AS cost, l.message_count
FROM page l
JOIN conversation_totals w
  ON w.organization_id = :org_id AND w.conversation_id = l.conversation_id AND w.agent_id = ''
LEFT JOIN conversations n ON n.organization_id = :org_id AND n.id = l.conversation_id
ORDER BY CASE WHEN :sort = 'last' THEN l.last_ts END DESC,
         CASE WHEN :sort = 'messages' THEN l.message_count END DESC,
         CASE WHEN :sort = 'tokens' THEN l.total_tokens END DESC,
         l.cost DESC, l.total_tokens DESC, l.conversation_id COLLATE "C"
