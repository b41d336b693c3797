-- The tag keys an organization pre-aggregates, in code point order.
-- param org_id: int
SELECT tag_key FROM tag_keys WHERE organization_id = :org_id ORDER BY tag_key COLLATE "C"
