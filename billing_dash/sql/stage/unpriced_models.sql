-- Of the events the import really inserted, those without a price, per model.
SELECT model, COUNT(*) FROM new_usage WHERE NOT priced GROUP BY model
