-- The values of an organization's pre-aggregated tag keys (the dashboard's tag picker), by key and
-- value in code point order.
-- param org_id: int
SELECT v.tag_key, v.tag_value
FROM tag_values v
JOIN tag_keys k ON k.organization_id = v.organization_id AND k.tag_key = v.tag_key
WHERE v.organization_id = :org_id
ORDER BY v.tag_key COLLATE "C", v.tag_value COLLATE "C"
