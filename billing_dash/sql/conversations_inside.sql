-- Conversations whose every message lies in the period, for the whole organization (agent_id
-- '') and per agent: those that began in it (per whole day from the daily start counts, in the
-- partial edge days from the totals) less those that went on past its end.
-- param org_id: int
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
    FROM conversation_starts s
    WHERE s.organization_id = :org_id AND s.day >= :day_from AND s.day <= :day_to
    UNION ALL
    SELECT t.agent_id, 1
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.first_ts >= :start AND t.first_ts < :full_start
    UNION ALL
    SELECT t.agent_id, 1
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.first_ts >= :full_end AND t.first_ts < :end
    UNION ALL
    SELECT t.agent_id, -1
    FROM conversation_totals t
    WHERE t.organization_id = :org_id AND t.first_ts >= :end_span_start AND t.first_ts >= :start
      AND t.first_ts < :end AND t.last_ts >= :end
) x
GROUP BY x.agent_id
