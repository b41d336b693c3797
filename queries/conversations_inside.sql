-- Conversations whose every message lies in the period, counted for the whole organization
-- (agent_id '') and per agent.
SELECT t.agent_id, COUNT(*) AS conversation_count
FROM conversation_totals t
WHERE t.organization_id = :org_id
  AND t.first_ts >= :start AND t.first_ts < :end AND t.last_ts < :end
GROUP BY t.agent_id
