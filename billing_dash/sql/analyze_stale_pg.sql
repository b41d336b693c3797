-- After a small write has committed (the API's and OTLP's batches): ANALYZE those of the tables
-- an import writes (models.WRITTEN_BY_IMPORT) whose statistics writes have left stale by
-- autovacuum's own rule, more rows changed since their last ANALYZE than
-- autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x their rows; a table another
-- session is analyzing is skipped. Autovacuum does the same when it is on and keeps up; where it
-- did not, a table planned from the statistics of when it was nearly empty was read by the wrong
-- index (exports into an organization fed only by OTLP took three times as long).
DO $$
DECLARE
    stale text;
BEGIN
    FOR stale IN
        SELECT s.relname
        FROM pg_stat_user_tables s
        JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = current_schema()
          AND s.relname = ANY (string_to_array('{written_tables}', ', '))
          AND s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
              + current_setting('autovacuum_analyze_scale_factor')::float8 * GREATEST(c.reltuples, 0)
    LOOP
        EXECUTE format('ANALYZE (SKIP_LOCKED) %I', stale);
    END LOOP;
END
$$
