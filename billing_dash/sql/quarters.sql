-- Usage per quarter hour (UTC) of a period, from the quarter-hour aggregates: the hourly series
-- buckets them by local hour (every zone's offset is whole quarter hours, Asia/Kolkata's too).
-- param org_id: int
-- param start: utc
-- param end: utc
-- column bucket: utc
SELECT q.bucket, {usage_sums_of:q}
FROM usage_quarter q
WHERE q.organization_id = :org_id AND q.bucket >= :start AND q.bucket < :end
