-- Sample at most this many index entries per index: ANALYZE then costs milliseconds even at
-- millions of events, and the planner needs only rough row counts.
PRAGMA analysis_limit = 1000
