-- The batch's stored events join the import's, for the aggregates and names at its end.
INSERT INTO new_usage SELECT * FROM batch_usage
