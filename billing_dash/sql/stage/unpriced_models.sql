-- Of the events the import really inserted, those without a price, per model.
SELECT model, SUM(unpriced_count) FROM new_usage_days GROUP BY model HAVING SUM(unpriced_count) > 0
