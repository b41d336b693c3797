-- Models of a period's events that had no price, with their messages and tokens. Reads only
-- unpriced events (the partial index ix_usage_events_unpriced), and runs only when the
-- aggregates count some in the period.
-- param org_id: int
-- param start: utc
-- param end: utc
SELECT e.model, COUNT(*) AS message_count, SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens
FROM usage_events e
WHERE e.organization_id = :org_id AND NOT e.priced
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.model
