-- Group the staged events by quarter-hour, once: usage_quarter adds these rows (aggregate/quarter).
-- Apart from that upsert so that it reads only new_usage (a large import groups on a second
-- connection, see ingest/side.py).
INSERT INTO new_quarters (organization_id, bucket, {usage_sums})
SELECT n.organization_id, quarter_start(n.ts), {usage_sums_from_events:n}
FROM new_usage n
GROUP BY n.organization_id, quarter_start(n.ts)
