-- Conversations that have messages both inside and outside the period: those crossing its start
-- began at most the organization's longest conversation span before it, those crossing its end
-- at most that span before the end. Two narrow ranges of ix_conversation_totals_first, not the
-- whole period's conversations.
-- param org_id: int
-- param span_start: utc
-- param start: utc
-- param end_span_start: utc
-- param end: utc
SELECT t.conversation_id, t.agent_id
FROM conversation_totals t
WHERE t.organization_id = :org_id
  AND t.first_ts >= :span_start AND t.first_ts < :start AND t.last_ts >= :start
UNION
SELECT t.conversation_id, t.agent_id
FROM conversation_totals t
WHERE t.organization_id = :org_id
  AND t.first_ts >= :end_span_start AND t.first_ts < :end AND t.last_ts >= :end
