-- TRUNCATE, not DELETE: a whole import is one transaction, so deleted rows could never be
-- vacuumed and every batch would scan all earlier batches' dead rows.
TRUNCATE batch_usage
