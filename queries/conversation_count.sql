-- Distinct conversations with a message in the period: whole days of the organization's zone
-- from the aggregates, the partial days at the edges (other zones only) from the events.
SELECT COUNT(DISTINCT u.conversation_id) AS conversation_count
FROM (
    SELECT c.conversation_id FROM conversation_daily c
    WHERE c.organization_id = :org_id AND c.day >= :day_from AND c.day <= :day_to
    UNION ALL
    SELECT e.conversation_id FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
    UNION ALL
    SELECT e.conversation_id FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
) u
