-- First and last message of the conversations the events just stored belong to.
SELECT t.first_ts, t.last_ts
FROM conversation_totals t
WHERE t.organization_id = :org_id AND t.agent_id = ''
  AND t.conversation_id IN (SELECT DISTINCT n.conversation_id FROM new_usage n)
