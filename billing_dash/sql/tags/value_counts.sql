-- Per pre-aggregated key of the organization: how many distinct values are stored, and how many
-- the staged events add (limits.MAX_TAG_VALUES bounds their sum).
-- param org_id: int
SELECT k.tag_key,
       (SELECT COUNT(*) FROM tag_values v WHERE v.organization_id = k.organization_id AND v.tag_key = k.tag_key)
           AS stored,
       (SELECT COUNT(*) FROM (SELECT DISTINCT d.tag_value FROM new_tag_days d WHERE d.tag_key = k.tag_key) n
        WHERE NOT EXISTS (SELECT 1 FROM tag_values v
                          WHERE v.organization_id = k.organization_id AND v.tag_key = k.tag_key
                            AND v.tag_value = n.tag_value)) AS added
FROM tag_keys k
WHERE k.organization_id = :org_id
