-- The catalogue prices of some models (those a batch's names can resolve to), as stored and in
-- catalogue_prices.sql's order.
-- param models: list
-- column effective_from: stored
-- column prompt_per_million: stored
-- column completion_per_million: stored
-- column cache_read_per_million: stored
-- column cache_write_per_million: stored
SELECT id, provider, model, effective_from, prompt_per_million, completion_per_million,
       cache_read_per_million, cache_write_per_million
FROM model_prices
WHERE source = 'catalogue' AND model IN :models
ORDER BY effective_from, id
