-- The import groups all its events once at its end (aggregates, names): room for those hash
-- tables in memory instead of sorts spilled to disk. One import per organization at a time.
SET LOCAL work_mem = '64MB'
