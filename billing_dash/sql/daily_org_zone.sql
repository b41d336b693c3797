-- Usage per day of the organization's own zone: its periods are whole days, read from usage_day.
-- param org_id: int
-- param day_from: date
-- param day_to: date
SELECT d.day, {usage_sums_of:d}
FROM usage_day d
WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
