-- Back to the server's join methods after lookups_pg (the names' joins of staged rows need hashes).
SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ('enable_hashjoin', 'enable_mergejoin')
