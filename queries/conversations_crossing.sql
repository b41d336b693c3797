-- Conversations that have messages both inside and outside the period: they began at most the
-- organization's longest conversation span before its start.
SELECT t.conversation_id, t.agent_id
FROM conversation_totals t
WHERE t.organization_id = :org_id
  AND t.first_ts >= :span_start AND t.first_ts < :end AND t.last_ts >= :start
  AND (t.first_ts < :start OR t.last_ts >= :end)
