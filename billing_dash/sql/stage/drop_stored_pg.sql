-- Of the staged events, drop those whose id is stored already (an import sent again, in part or
-- whole, stores nothing twice).
DELETE FROM new_usage n USING usage_events e WHERE e.organization_id = n.organization_id AND e.event_id = n.event_id
