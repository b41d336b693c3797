-- Usage per model in the period, costliest first; unpriced_count flags models without a price.
SELECT e.model,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       SUM(CASE WHEN e.priced THEN 0 ELSE 1 END) AS unpriced_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.model
ORDER BY cost DESC, total_tokens DESC, e.model
