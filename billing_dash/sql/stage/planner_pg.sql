-- Back to the server's plan choices after lookups_pg, no_nested_loops_pg or hash_groups_pg.
SELECT set_config(name, reset_val, true) FROM pg_settings
WHERE name IN ('enable_hashjoin', 'enable_mergejoin', 'enable_nestloop', 'enable_sort')
