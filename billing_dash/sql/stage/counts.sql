-- Events the import really inserted, and how many of them had no price.
SELECT COALESCE(SUM(message_count), 0), COALESCE(SUM(unpriced_count), 0) FROM new_usage_days
