-- The import's events in input order (their positions), with cost and cache savings as stored
-- (integers of 1e-10 dollars) and the instant as stored (naive UTC text, which
-- db.sqlite_local_date reads).
-- column ts: stored
-- column cost: stored
-- column cache_savings: stored
SELECT seq, ts, conversation_id, cost, cache_savings FROM new_usage ORDER BY seq
