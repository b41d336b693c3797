-- Behind a long import of the same organization, an ingestion request answers 503 (retry)
-- before the worker's own timeout rather than hang.
SET LOCAL lock_timeout = '10s'
