-- Empty the staged events (a rebuild stages one organization after another).
TRUNCATE new_usage
