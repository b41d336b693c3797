-- After a bulk import commits: statistics of the tables an import writes (models.WRITTEN_BY_IMPORT),
-- so that the next report is planned for the rows just added rather than for the tables as
-- autovacuum last saw them (a tag filter read a year of every value's rows, estimated at one).
ANALYZE {written_tables}
