-- Empty the staging tables (a rebuild stages one organization after another in one transaction).
TRUNCATE new_usage, new_usage_days, new_conversation_days, new_names, new_quarters
