-- Usage per local day of the requested zone, from the quarter-hour aggregates (exact in any zone).
-- param tz: text
-- param org_id: int
-- param start: utc
-- param end: utc
-- column cost: money
SELECT local_date(q.bucket, :tz) AS day,
       SUM(q.prompt_tokens) AS prompt_tokens,
       SUM(q.completion_tokens) AS completion_tokens,
       SUM(q.cost) AS cost,
       SUM(q.message_count) AS message_count,
       SUM(q.unpriced_count) AS unpriced_count
FROM usage_quarter q
WHERE q.organization_id = :org_id
  AND q.bucket >= :start AND q.bucket < :end
GROUP BY local_date(q.bucket, :tz)
