-- The names join their candidate events (new_names, stage/name_events) to the picks among them.
-- PostgreSQL, with no statistics for either, may expect a row or two and loop over one for each
-- row of the other: 200,000 candidates took minutes that way. Hash joins take a fraction of a second.
SELECT set_config('enable_nestloop', 'off', true)
