"""Usage ingestion: parse and validate records (parse), price them (..pricing), store them (store)."""

from .parse import (
    FIELDS,
    FIRST_INSTANT,
    MAX_COST,
    MAX_ERRORS,
    MAX_TOKENS,
    PROVIDERS,
    TOKEN_COUNTS,
    FieldError,
    IngestError,
    UsageEvent,
    loads_json,
    parse_event,
    read_csv,
    read_jsonl,
)
from .store import ANALYZE_MIN_EVENTS, BATCH_SIZE, IngestResult, analyze_after_writing, ingest, refresh_statistics

__all__ = [
    "ANALYZE_MIN_EVENTS",
    "BATCH_SIZE",
    "FIELDS",
    "FIRST_INSTANT",
    "MAX_COST",
    "MAX_ERRORS",
    "MAX_TOKENS",
    "PROVIDERS",
    "TOKEN_COUNTS",
    "FieldError",
    "IngestError",
    "IngestResult",
    "UsageEvent",
    "analyze_after_writing",
    "ingest",
    "loads_json",
    "parse_event",
    "read_csv",
    "read_jsonl",
    "refresh_statistics",
]
