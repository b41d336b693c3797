-- Group the staged events by pre-aggregated tag key and value, local day (of the organization's
-- zone), agent, model and conversation, once: tag_daily, tag_conversation_daily and the tag value
-- checks read these rows. The events are grouped by their tags' text first, so each key's value
-- is read from a group's tags, not from every event's (a conversation's events carry the same
-- tags). Only for an organization with tag keys (aggregates.EventWriter).
-- param tz: text
INSERT INTO new_tag_days (organization_id, tag_key, tag_value, day, agent_id, model, conversation_id, first_ts,
                          last_ts, {usage_sums})
SELECT t.organization_id, t.tag_key, t.tag_value, t.day, t.agent_id, t.model, t.conversation_id, MIN(t.first_ts),
       MAX(t.last_ts), {usage_sums_added_up:t}
FROM (
    SELECT g.*, k.tag_key, tag_value(g.tags, k.tag_key) AS tag_value
    FROM (
        SELECT e.organization_id, e.tags, e.day, e.agent_id, e.model, e.conversation_id, MIN(e.ts) AS first_ts,
               MAX(e.ts) AS last_ts, {usage_sums_added_up_as:e}
        FROM (
            SELECT n.organization_id, n.tags, local_date(n.ts, :tz) AS day, n.agent_id, n.model, n.conversation_id,
                   n.ts, {usage_sums_of_event:n}
            FROM new_usage n
            WHERE n.tags IS NOT NULL
        ) e
        GROUP BY e.organization_id, e.tags, e.day, e.agent_id, e.model, e.conversation_id
    ) g
    JOIN tag_keys k ON k.organization_id = g.organization_id
) t
WHERE t.tag_value IS NOT NULL
GROUP BY t.organization_id, t.tag_key, t.tag_value, t.day, t.agent_id, t.model, t.conversation_id
