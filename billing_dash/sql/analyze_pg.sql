-- After a bulk import commits: statistics of the tables reports read, so that the next report is
-- planned for the rows just added rather than for the tables as autovacuum last saw them (a tag
-- filter read a year of every value's rows, estimated at one), and their visibility maps, so that
-- its index-only scans read no table pages (a year's report straight after a 10M-event import took
-- 1.3 times as long as after VACUUM). Outside a transaction, as VACUUM must be. It waits for a
-- table another VACUUM holds (PostgreSQL cancels autovacuum's), so that the import's command ends
-- with every one of them ready. The events: analyze_events_pg.
VACUUM (ANALYZE) {report_tables}
