-- The messages of one conversation, oldest first (ties: event id), within its stored first and
-- last message: a narrow range of ix_usage_events_org_ts, not all of the organization's events.
-- param org_id: int
-- param conversation_id: text
-- param first_ts: utc
-- param last_ts: utc
-- param limit: int
-- column ts: utc
-- column cost: money
-- column cache_savings: money
SELECT e.event_id, e.ts, e.agent_id, e.model, e.prompt_tokens, e.completion_tokens, e.cost, e.priced,
       e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens, e.cache_savings
FROM usage_events e
WHERE e.organization_id = :org_id AND e.ts >= :first_ts AND e.ts <= :last_ts
  AND e.conversation_id = :conversation_id
ORDER BY e.ts, e.event_id COLLATE "C"
LIMIT :limit
