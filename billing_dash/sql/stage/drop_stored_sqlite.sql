-- Of the batch, drop the events already stored (then insert_sqlite stores the rest). The caller's
-- transaction already wrote to the database (ingest locks its organization first), so its write
-- lock is held: nobody can store these ids between this check and the insert.
DELETE FROM batch_usage WHERE EXISTS (
    SELECT 1 FROM usage_events e
    WHERE e.organization_id = batch_usage.organization_id AND e.event_id = batch_usage.event_id)
