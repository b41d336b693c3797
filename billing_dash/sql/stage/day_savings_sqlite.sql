-- Stored cache savings of the given days of an organization, as stored (integers of 1e-10 dollars).
-- param org_id: int
-- param ids: list
-- column cache_savings: stored
SELECT day, cache_savings FROM usage_day WHERE organization_id = :org_id AND day IN :ids
