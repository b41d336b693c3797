-- After a bulk import commits: the events' statistics only. Vacuuming them too would read every page
-- the import wrote (5 s after 10M events, three times the rest), for reads that seldom touch them.
ANALYZE usage_events
