-- Store the import's staged events (drop_stored_pg has dropped those stored before), in key order:
-- the index pages are then written once each, not once per batch of a file in another order. Of
-- an id repeated in the import the first wins, as in a batch. A plain INSERT: ON CONFLICT's
-- speculative insertion doubled its cost, and the caller holds its organization's row lock, so no
-- other import can store these ids meanwhile. Sorted by code point (COLLATE "C", as fast as a
-- sort of text gets): the index's own order on a database in C.UTF-8, and any order is correct.
INSERT INTO usage_events ({event_columns})
SELECT DISTINCT ON (event_id COLLATE "C") {event_columns}
FROM new_usage
ORDER BY event_id COLLATE "C", seq
