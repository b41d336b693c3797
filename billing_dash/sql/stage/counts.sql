-- Events the import really inserted, and how many of them had no price.
SELECT COUNT(*), COALESCE(SUM(CASE WHEN priced THEN 0 ELSE 1 END), 0) FROM new_usage
