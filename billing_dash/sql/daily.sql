-- Usage per local day of the requested zone, from the quarter-hour aggregates (exact in any zone).
-- param tz: text
-- param org_id: int
-- param start: utc
-- param end: utc
SELECT local_date(q.bucket, :tz) AS day, {usage_sums_summed:q}
FROM usage_quarter q
WHERE q.organization_id = :org_id
  AND q.bucket >= :start AND q.bucket < :end
GROUP BY local_date(q.bucket, :tz)
