-- Record the distinct values of the pre-aggregated keys the import's events brought
-- (tags/value_counts has checked their number first).
INSERT INTO tag_values (organization_id, tag_key, tag_value)
SELECT DISTINCT d.organization_id, d.tag_key, d.tag_value
FROM new_tag_days d
WHERE true
ORDER BY d.organization_id, d.tag_key, d.tag_value
ON CONFLICT (organization_id, tag_key, tag_value) DO NOTHING
