-- After a bulk import commits: statistics of the tables an import writes (usage_events, the
-- aggregates of models.AGGREGATES, agents, conversations), so that the next report is planned for
-- the rows just added rather than for the tables as autovacuum last saw them.
ANALYZE usage_events, usage_quarter, usage_day, usage_daily, conversation_daily, conversation_totals,
    conversation_starts, agents, conversations
