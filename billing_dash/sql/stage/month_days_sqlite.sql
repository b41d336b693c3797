-- The stored day totals of the given months (first days) of an organization, as stored (integers
-- of 1e-10 dollars): the import's bound checks read each day's and sum each month's exactly.
-- param org_id: int
-- param ids: list
-- column cost: stored
-- column cache_savings: stored
SELECT day, cost, cache_savings FROM usage_day
WHERE organization_id = :org_id AND month_start(day) IN :ids
