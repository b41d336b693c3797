-- The values of one key that the staged events bring and none stored before, each with the input
-- position of its first event (an import past the limit names the event that passed it).
-- param org_id: int
-- param tag_key: text
SELECT tag_value(n.tags, :tag_key) AS tag_value, MIN(n.seq) AS seq
FROM new_usage n
WHERE n.tags IS NOT NULL AND tag_value(n.tags, :tag_key) IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tag_values v
                  WHERE v.organization_id = :org_id AND v.tag_key = :tag_key
                    AND v.tag_value = tag_value(n.tags, :tag_key))
GROUP BY tag_value(n.tags, :tag_key)
ORDER BY MIN(n.seq)
