-- Unqualified names find a side stage's tables first (their names are the staging tables' own, so
-- the aggregate statements run unchanged), then the application's; for this transaction only.
-- Temporary tables last: a pooled connection may hold none of an import's, but never before these.
-- param schema: text
SELECT set_config('search_path', quote_ident(:schema) || ', public, pg_temp', true)
