-- The import's float totals and the largest stored totals (an organization's day and month, a
-- whole conversation), as stored: integers of 1e-10 dollars, compared with SQLite's 64-bit limit.
-- Cache savings are summed per day and month like cost (conversations keep no savings).
-- param org_id: int
SELECT TOTAL(n.cost),
       (SELECT MAX(d.cost) FROM usage_day d WHERE d.organization_id = :org_id),
       (SELECT MAX(t.cost) FROM conversation_totals t WHERE t.organization_id = :org_id AND t.agent_id = ''),
       TOTAL(ABS(n.cache_savings)),
       (SELECT MAX(ABS(d.cache_savings)) FROM usage_day d WHERE d.organization_id = :org_id),
       (SELECT MAX(m.cost) FROM (
            SELECT TOTAL(d.cost) AS cost FROM usage_day d WHERE d.organization_id = :org_id GROUP BY month_start(d.day)
       ) m),
       (SELECT MAX(m.savings) FROM (
            SELECT TOTAL(ABS(d.cache_savings)) AS savings FROM usage_day d
            WHERE d.organization_id = :org_id GROUP BY month_start(d.day)
       ) m)
FROM new_usage n
