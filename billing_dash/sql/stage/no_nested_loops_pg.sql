-- The names join their candidate events (those at a conversation's or agent's newest instants) to
-- the picks among them. PostgreSQL, with no statistics for either, expects a row or two and would
-- loop over one for each row of the other: 200,000 candidates took minutes. Hash joins take 0.2 s.
SELECT set_config('enable_nestloop', 'off', true)
