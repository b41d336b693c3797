-- After a bulk import commits: statistics (sqlite_stat1) for the planner. SQLite's ANALYZE takes
-- one table at a time; all of them, as here, adds only the small tables an import does not write.
ANALYZE
