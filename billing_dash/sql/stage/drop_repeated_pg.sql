-- Of an id staged more than once, keep the first (the one insert_pg stored).
DELETE FROM new_usage n
USING (SELECT event_id, MIN(seq) AS seq FROM new_usage GROUP BY event_id HAVING COUNT(*) > 1) f
WHERE n.event_id = f.event_id AND n.seq > f.seq
