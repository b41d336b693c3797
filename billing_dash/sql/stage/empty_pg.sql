-- Empty the staged events (a rebuild stages one organization after another in one transaction).
TRUNCATE new_usage
