-- Group the staged events by local day (of the organization's zone), conversation, agent and model,
-- once: the conversation and day aggregates are sums of these rows, and the names start from their
-- newest instants.
-- param tz: text
INSERT INTO new_conversation_days (organization_id, day, conversation_id, agent_id, model, first_ts, last_ts,
                                   name_ts, title_ts, {usage_sums})
SELECT n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id, n.model, MIN(n.ts), MAX(n.ts),
       MAX(CASE WHEN n.agent_name IS NOT NULL THEN n.ts END),
       MAX(CASE WHEN n.conversation_title IS NOT NULL THEN n.ts END),
       {usage_sums_from_events:n}
FROM new_usage n
GROUP BY n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id, n.model
