-- top_conversations.sql for SQLite when many of the organization's conversations lie inside the
-- period (services/billing.py COST_WALK_SHARE): walking them (or one agent's) from the costliest
-- (ix_conversation_totals_cost) finds the first :limit inside it after a few rows, where SQLite's
-- planner sorts every conversation of the period (a year of 200,000: 96 ms; by cost 0.2 ms).
-- param org_id: int
-- param agent_id: text
-- param start: utc
-- param end: utc
-- param limit: int
-- column cost: money
SELECT t.conversation_id, t.total_tokens, t.cost AS cost, t.message_count
FROM conversation_totals t INDEXED BY ix_conversation_totals_cost
WHERE t.organization_id = :org_id AND t.agent_id = :agent_id
  AND t.first_ts >= :start AND t.first_ts < :end AND t.last_ts < :end
ORDER BY t.cost DESC, t.total_tokens DESC, t.conversation_id COLLATE "C"
LIMIT :limit
