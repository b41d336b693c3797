-- Conversations of an organization that used more than :tokens tokens (prompt + completion)
-- since :since: the runaway alerts. Reads the events of the last hour (ix_usage_events_org_ts).
-- param org_id: int
-- param since: utc
-- param tokens: int
SELECT e.conversation_id, MIN(e.agent_id) AS agent_id, SUM(e.prompt_tokens + e.completion_tokens) AS tokens
FROM usage_events e
WHERE e.organization_id = :org_id AND e.ts >= :since
GROUP BY e.conversation_id
HAVING SUM(e.prompt_tokens + e.completion_tokens) > :tokens
