-- Group the staged events by pre-aggregated tag key and value, local day (of the organization's
-- zone), agent and model, once: tag_daily and the tag value checks read these rows. Only for an
-- organization with tag keys (aggregates.EventWriter), so other imports never run it.
-- param tz: text
INSERT INTO new_tag_days (organization_id, tag_key, tag_value, day, agent_id, model, {usage_sums})
SELECT e.organization_id, e.tag_key, e.tag_value, e.day, e.agent_id, e.model, {usage_sums_added_up:e}
FROM (
    SELECT n.organization_id, k.tag_key, tag_value(n.tags, k.tag_key) AS tag_value, local_date(n.ts, :tz) AS day,
           n.agent_id, n.model, {usage_sums_of_event:n}
    FROM new_usage n
    JOIN tag_keys k ON k.organization_id = n.organization_id
    WHERE n.tags IS NOT NULL
) e
WHERE e.tag_value IS NOT NULL
GROUP BY e.organization_id, e.tag_key, e.tag_value, e.day, e.agent_id, e.model
