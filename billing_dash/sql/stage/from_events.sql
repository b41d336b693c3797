-- Stage all stored events of an organization, to rebuild its aggregates from them.
-- param org_id: int
INSERT INTO new_usage SELECT * FROM usage_events WHERE organization_id = :org_id
