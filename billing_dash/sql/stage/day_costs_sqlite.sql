-- Stored totals of the given days of an organization, as stored (integers of 1e-10 dollars).
-- param org_id: int
-- param ids: list
-- column cost: stored
SELECT day, cost FROM usage_day WHERE organization_id = :org_id AND day IN :ids
