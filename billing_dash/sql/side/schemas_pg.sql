-- The schemas of side stages (ingest/side.py), live or left behind by an import that failed.
-- column name: text
SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'billing\_import\_%' ORDER BY nspname
