-- The import's usage by local day, agent and model, from its conversation days (far fewer rows than
-- its events): the day, agent and model aggregates and the import's counts are sums of these rows.
INSERT INTO new_usage_days (organization_id, day, agent_id, model, {usage_sums})
SELECT c.organization_id, c.day, c.agent_id, c.model, {usage_sums_added_up:c}
FROM new_conversation_days c
GROUP BY c.organization_id, c.day, c.agent_id, c.model
