-- The import groups and sorts all its events once at its end (aggregates, names, the events in key
-- order): more room than the server's default 4 MB for the names' hash joins, but no more: larger
-- hash tables and sort runs fall out of the CPU's caches. At 10M shuffled events, 16 MB against
-- 64 MB took the events' sort from 22.3 to 19.0 s and the quarter-hours' grouping from 23.6 to
-- 16.3 s (spilled in partitions, each partition's groups stay in cache); 256 MB was slower still.
-- One import per organization at a time.
SET LOCAL work_mem = '16MB'
