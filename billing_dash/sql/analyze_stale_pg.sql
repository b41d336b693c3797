-- After a small write has committed (the API's and OTLP's batches): ANALYZE those of the tables
-- an import writes (models.WRITTEN_BY_IMPORT) that have more than doubled since their last
-- ANALYZE (and hold at least 50 rows): their statistics describe at most half of them. Planned
-- from the statistics of when it was nearly empty, a table was read by the wrong index (exports
-- into an organization fed only by OTLP took three times as long) wherever autovacuum is off or
-- behind. Doubling, not autovacuum's 10% of rows changed: that analyzed the small aggregates every
-- upsert changes after every few exports, each time within a request. A table another session is
-- analyzing is skipped.
DO $$
DECLARE
    stale text;
BEGIN
    FOR stale IN
        SELECT c.relname
        FROM pg_class c
        WHERE c.oid = ANY (string_to_array('{written_tables}', ', ')::regclass[])
          AND pg_stat_get_live_tuples(c.oid) > GREATEST(2 * c.reltuples, 50)
    LOOP
        EXECUTE format('ANALYZE (SKIP_LOCKED) %I', stale);
    END LOOP;
END
$$
