-- One conversation of the organization: its title, agent and whole-life totals (no row: unknown).
-- param org_id: int
-- param conversation_id: text
-- column first_ts: utc
-- column last_ts: utc
-- column cost: money
SELECT t.conversation_id, COALESCE(n.title, t.conversation_id) AS title, COALESCE(n.agent_id, '') AS agent_id,
       t.first_ts, t.last_ts, t.total_tokens, t.cost AS cost, t.message_count
FROM conversation_totals t
LEFT JOIN conversations n ON n.organization_id = :org_id AND n.id = t.conversation_id
WHERE t.organization_id = :org_id AND t.conversation_id = :conversation_id AND t.agent_id = ''
