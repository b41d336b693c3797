-- Empty the staging table for the next batch.
DELETE FROM new_usage
