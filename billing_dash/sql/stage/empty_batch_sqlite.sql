-- Empty the batch table for the next batch.
DELETE FROM batch_usage
