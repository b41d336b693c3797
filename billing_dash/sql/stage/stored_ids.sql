-- Ids of the batch's events that were really inserted (the others were stored before).
SELECT event_id FROM new_usage
