-- Add the import's quarter-hours (aggregate/quarters) to the quarter-hour aggregates.
INSERT INTO usage_quarter (organization_id, bucket, {usage_sums})
SELECT q.organization_id, q.bucket, {usage_sums_copied:q}
FROM new_quarters q
WHERE true
ORDER BY q.organization_id, q.bucket
ON CONFLICT (organization_id, bucket) DO UPDATE SET
    {usage_sums_added:usage_quarter}
