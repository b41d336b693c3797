-- psycopg prepares a statement run five times, and PostgreSQL may then keep a plan made when the
-- aggregate tables were small (a hash join reading all of conversation_totals for every batch of a
-- long import). Plan each statement of the import's transaction for the tables as they are.
SET LOCAL plan_cache_mode = force_custom_plan
