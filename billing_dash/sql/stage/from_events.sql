-- Stage all stored events of an organization, to rebuild its aggregates from them.
-- param org_id: int
INSERT INTO new_usage ({event_columns}) SELECT {event_columns} FROM usage_events WHERE organization_id = :org_id
