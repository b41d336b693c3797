-- Every catalogue price, as stored: an import reads them all (thousands), and only the few models
-- its names resolve to are converted (pricing.book.PriceBook), so money and instants stay raw here.
-- column effective_from: stored
-- column prompt_per_million: stored
-- column completion_per_million: stored
-- column cache_read_per_million: stored
-- column cache_write_per_million: stored
SELECT id, provider, model, effective_from, prompt_per_million, completion_per_million,
       cache_read_per_million, cache_write_per_million
FROM model_prices
WHERE source = 'catalogue'
ORDER BY effective_from, id
