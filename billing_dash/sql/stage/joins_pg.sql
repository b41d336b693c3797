-- Back to the server's join methods after lookups_pg or no_nested_loops_pg.
SELECT set_config(name, reset_val, true) FROM pg_settings
WHERE name IN ('enable_hashjoin', 'enable_mergejoin', 'enable_nestloop')
