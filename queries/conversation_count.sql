-- Distinct conversations with at least one message in the period.
SELECT COUNT(DISTINCT e.conversation_id) AS conversation_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
