-- Usage per local day of the period: the days, and through them the summary, of every report.
SELECT local_date(e.ts, :tz) AS day,
       SUM(e.prompt_tokens) AS prompt_tokens,
       SUM(e.completion_tokens) AS completion_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       SUM(CASE WHEN e.priced THEN 0 ELSE 1 END) AS unpriced_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY local_date(e.ts, :tz)
