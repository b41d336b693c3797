-- Conversations of an organization that used more than :limit tokens (prompt + completion) since
-- :start: the runaway alerts. Reads the events of the last hour (ix_usage_events_org_ts).
-- param org_id: int
-- param start: utc
-- param limit: int
SELECT e.conversation_id, MIN(e.agent_id) AS agent_id, SUM(e.prompt_tokens + e.completion_tokens) AS tokens
FROM usage_events e
WHERE e.organization_id = :org_id AND e.ts >= :start
GROUP BY e.conversation_id
HAVING SUM(e.prompt_tokens + e.completion_tokens) > :limit
