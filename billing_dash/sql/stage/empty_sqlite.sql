-- Empty the staged events (a rebuild stages one organization after another).
DELETE FROM new_usage
