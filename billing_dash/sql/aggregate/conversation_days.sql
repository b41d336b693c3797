-- Group the staged events by local day (of the organization's zone), conversation, agent and model,
-- once: the conversation aggregates are sums of these rows.
-- param tz: text
INSERT INTO new_conversation_days (organization_id, day, conversation_id, agent_id, model, first_ts, last_ts,
                                   total_tokens, cost, message_count)
SELECT n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id, n.model, MIN(n.ts), MAX(n.ts),
       SUM(n.prompt_tokens + n.completion_tokens), SUM(n.cost), COUNT(*)
FROM new_usage n
GROUP BY n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id, n.model
