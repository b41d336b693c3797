-- Conversation parts of one model or tag value (models.conversation_parts) whose every message
-- lies in the period, for the whole organization (agent_id '') and per agent, counted as
-- conversations_inside.sql counts whole conversations: those that began in it (whole days from
-- conversation_part_starts, partial edge days from the parts) less those that went on past its end.
-- param org_id: int
-- param dimension: text
-- param value: text
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- param end_span_start: utc
SELECT x.agent_id, SUM(x.n) AS conversation_count
FROM (
    SELECT s.agent_id, s.started AS n
    FROM conversation_part_starts s
    WHERE s.organization_id = :org_id AND s.dimension = :dimension AND s.value = :value
      AND s.day >= :day_from AND s.day <= :day_to
    UNION ALL
    SELECT p.agent_id, 1
    FROM conversation_parts p
    WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value
      AND p.first_ts >= :start AND p.first_ts < :full_start
    UNION ALL
    SELECT p.agent_id, 1
    FROM conversation_parts p
    WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value
      AND p.first_ts >= :full_end AND p.first_ts < :end
    UNION ALL
    SELECT p.agent_id, -1
    FROM conversation_parts p
    WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value
      AND p.first_ts >= :end_span_start AND p.first_ts >= :start AND p.first_ts < :end AND p.last_ts >= :end
) x
GROUP BY x.agent_id
