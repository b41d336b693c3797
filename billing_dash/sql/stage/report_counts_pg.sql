-- The import's row counts reach the server's statistics as its transaction ends, not up to seconds
-- later (PostgreSQL 15 reports a session's counts at most once a second): the ANALYZE after it, or
-- the next write's check for stale statistics (analyze_stale_pg), counts them. Older servers
-- report them as they always did.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 150000 THEN
        PERFORM pg_stat_force_next_flush();
    END IF;
END
$$
