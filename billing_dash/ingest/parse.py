"""Usage input: JSONL and CSV readers, and the validation of each record into a UsageEvent."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, NamedTuple, overload

import msgspec
import orjson

from ..limits import MAX_COST, MAX_ID, MAX_NAME, MAX_TAG_VALUE, MAX_TAGS, MAX_TITLE, TAG_KEY_PATTERN
from ..models import MONEY_SCALE

# Limits per event that no real LLM call reaches (the largest context windows hold ~2M tokens)
# but that leave sums room: see README, "Limits".
MAX_TOKENS = 10**9
MAX_ERRORS = 50
# The earliest event: from then on every zone's offset is a whole number of quarter hours (the last
# that was not, Pacific/Kiritimati's -10:40, ended in October 1979), so usage_quarter sums exactly
# into the local days of any zone (tests/unit/test_quarter_hours.py proves it from zoneinfo).
FIRST_INSTANT = datetime(1980, 1, 1, tzinfo=UTC)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)

# The input fields, in the order of a CSV header, and whether a record must give each (parse_event
# checks them one by one; a CSV header must have a column for each required one).
FIELDS = {
    "event_id": True,
    "timestamp": True,
    "agent_id": True,
    "agent_name": False,
    "conversation_id": True,
    "conversation_title": False,
    "model": True,
    "prompt_tokens": True,
    "completion_tokens": True,
    "cost": False,
    # Parts of the totals above (see "Token model" in the README): cache reads and writes are parts
    # of prompt_tokens, reasoning tokens of completion_tokens.
    "cache_read_tokens": False,
    "cache_write_tokens": False,
    "reasoning_tokens": False,
}
# Beside FIELDS, optional: an event's tags, a JSON object of string pairs (README, "Tags"); a CSV
# gives them in a column of this name holding the object as JSON text.
TAGS_FIELD = "tags"
# Instead of the flat counts a JSON event may carry its provider's own usage object (`provider`
# and `usage`), which _provider_counts turns into the same counts.
PROVIDERS = ("openai", "anthropic", "google")
TOKEN_COUNTS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
# The text fields, each with the most characters it may hold.
TEXT_LIMITS = {
    "event_id": MAX_ID,
    "agent_id": MAX_ID,
    "agent_name": MAX_NAME,
    "conversation_id": MAX_ID,
    "conversation_title": MAX_TITLE,
    "model": MAX_ID,
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one input record at `position`: its line in a file, or its index in the
    API's batch; the caller names which (`describe`)."""

    position: int
    field: str
    message: str

    def describe(self, unit: str = "line") -> str:
        where = f"{unit} {self.position}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    __str__ = describe


class IngestError(ValueError):
    """The input had errors; nothing was written."""

    def __init__(self, errors: list[FieldError], truncated: bool = False) -> None:
        self.errors = errors
        self.truncated = truncated
        super().__init__(self.describe())

    def describe(self, unit: str = "line") -> str:
        """The errors, the first five of them named by `unit` and position (`line 7`, `event 3`)."""
        more = " (and more; fix these first)" if self.truncated else ""
        return f"{len(self.errors)} invalid record(s){more}: " + "; ".join(e.describe(unit) for e in self.errors[:5])


class UsageEvent(NamedTuple):
    """One validated event (a tuple: imports make millions of them)."""

    event_id: str
    ts: datetime
    agent_id: str
    agent_name: str | None
    conversation_id: str
    conversation_title: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # The tags as stored: canonical JSON (keys sorted, no spaces), None without tags.
    tags: str | None = None


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


# NUL cannot be stored by PostgreSQL, and a lone surrogate is not text at all (it cannot be encoded).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@overload
def _text(raw: Mapping[str, Any], name: str, required: Literal[True], limit: int) -> str: ...
@overload
def _text(raw: Mapping[str, Any], name: str, required: Literal[False], limit: int) -> str | None: ...
def _text(raw: Mapping[str, Any], name: str, required: bool, limit: int) -> str | None:
    value = raw.get(name)
    if type(value) is str and 0 < len(value) <= limit and not _UNSTORABLE.search(value):
        return value  # the common case, checked first: imports spend most of their time here
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise _Invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(name, "must be a string")
    if len(value) > limit:
        raise _Invalid(name, f"is longer than {limit} characters")
    if _UNSTORABLE.search(value):
        raise _Invalid(name, "must not contain NUL characters or unpaired surrogates")
    return value


def _tokens(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_TOKENS)):
        value = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and 0 <= value <= MAX_TOKENS and value == value.to_integral():
        value = int(value)  # JSON's 5.0 or 1e2: an integer in JSON Schema's eyes too
    if value is None or value == "":
        raise _Invalid(name, "is required")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(name, f"must be an integer >= 0, got {value!r}")
    if value > MAX_TOKENS:
        raise _Invalid(name, f"must be at most {MAX_TOKENS}")
    return value


def _part(raw: Mapping[str, Any], name: str) -> int:
    """An optional part of a token total: 0 when not given."""
    value = raw.get(name)
    return 0 if value is None or value == "" else _tokens(raw, name)


def _flat_counts(raw: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        _tokens(raw, "prompt_tokens"),
        _tokens(raw, "completion_tokens"),
        _part(raw, "cache_read_tokens"),
        _part(raw, "cache_write_tokens"),
        _part(raw, "reasoning_tokens"),
    )


def _usage_count(usage: Mapping[str, Any], *path: str, required: bool = False) -> int:
    """The count at `path` in a provider's usage object (absent or null: 0, unless required)."""
    value: Any = usage
    for i, key in enumerate(path):
        if not isinstance(value, Mapping):
            raise _Invalid("usage." + ".".join(path[:i]), "must be a JSON object")
        value = value.get(key)
        if value is None:
            if required:
                raise _Invalid("usage." + ".".join(path), "is required")
            return 0
    field = "usage." + ".".join(path)
    return _tokens({field: value}, field)


# Each provider's usage object as the canonical counts (prompt, completion, cache reads, cache
# writes, reasoning), and the usage keys the parts come from, to name them in errors. What each
# provider's fields mean is in the README ("Provider usage objects"), with its sources: OpenAI's
# API reference (cached and reasoning tokens are parts of the totals), Anthropic's prompt-caching
# guide (total input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens),
# Google's GenerateContentResponse reference (totalTokenCount = prompt + candidates + tool-use
# prompt + thoughts; the prompt includes the cached content) and Gemini's thinking pricing.
def _openai(u: Mapping[str, Any]) -> tuple[tuple[int, int, int, int, int], tuple[str, str, str]]:
    if "input_tokens" in u or "output_tokens" in u:  # the Responses API
        counts = (
            _usage_count(u, "input_tokens", required=True),
            _usage_count(u, "output_tokens", required=True),
            _usage_count(u, "input_tokens_details", "cached_tokens"),
            0,
            _usage_count(u, "output_tokens_details", "reasoning_tokens"),
        )
        return counts, ("input_tokens_details.cached_tokens", "", "output_tokens_details.reasoning_tokens")
    # Chat Completions: prompt_tokens includes the cached tokens, completion_tokens the reasoning.
    counts = (
        _usage_count(u, "prompt_tokens", required=True),
        _usage_count(u, "completion_tokens", required=True),
        _usage_count(u, "prompt_tokens_details", "cached_tokens"),
        0,
        _usage_count(u, "completion_tokens_details", "reasoning_tokens"),
    )
    return counts, ("prompt_tokens_details.cached_tokens", "", "completion_tokens_details.reasoning_tokens")


def _anthropic(u: Mapping[str, Any]) -> tuple[tuple[int, int, int, int, int], tuple[str, str, str]]:
    # input_tokens counts only the tokens after the last cache breakpoint: the input is the sum.
    uncached = _usage_count(u, "input_tokens", required=True)
    read = _usage_count(u, "cache_read_input_tokens")
    write = _usage_count(u, "cache_creation_input_tokens")
    # output_tokens includes extended thinking; the usage object does not count it apart.
    return (uncached + read + write, _usage_count(u, "output_tokens", required=True), read, write, 0), ("", "", "")


def _google(u: Mapping[str, Any]) -> tuple[tuple[int, int, int, int, int], tuple[str, str, str]]:
    # promptTokenCount includes cachedContentTokenCount; tool-use prompts and thoughts are counted
    # apart (totalTokenCount is the sum of the four), thoughts billed as output.
    thoughts = _usage_count(u, "thoughtsTokenCount")
    counts = (
        _usage_count(u, "promptTokenCount", required=True) + _usage_count(u, "toolUsePromptTokenCount"),
        _usage_count(u, "candidatesTokenCount") + thoughts,
        _usage_count(u, "cachedContentTokenCount"),
        0,
        thoughts,
    )
    return counts, ("cachedContentTokenCount", "", "")


_PROVIDER_USAGE = {"openai": _openai, "anthropic": _anthropic, "google": _google}


def _provider_counts(raw: Mapping[str, Any]) -> tuple[tuple[int, int, int, int, int], tuple[str, str, str]]:
    given = [name for name in TOKEN_COUNTS if raw.get(name) not in (None, "")]
    if given:
        raise _Invalid(
            "usage", f"give either provider and usage or the token counts, not both (got usage and {', '.join(given)})"
        )
    provider, usage = raw.get("provider"), raw.get("usage")
    if provider in (None, ""):
        raise _Invalid("provider", f"is required with usage: one of {', '.join(PROVIDERS)}")
    if not isinstance(provider, str) or provider not in _PROVIDER_USAGE:
        raise _Invalid("provider", f"must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    if usage in (None, ""):
        raise _Invalid("usage", f"is required with provider: the {provider} usage object")
    if not isinstance(usage, Mapping):
        raise _Invalid("usage", f"must be the {provider} usage object (a JSON object)")
    counts, parts = _PROVIDER_USAGE[provider](usage)
    for total, name in ((counts[0], "input"), (counts[1], "output")):
        if total > MAX_TOKENS:
            raise _Invalid("usage", f"{name} tokens must be at most {MAX_TOKENS}, got {total}")
    read, write, reasoning = (f"usage.{p}" if p else "usage" for p in parts)
    return counts, (read, write, reasoning)


_FLAT_PARTS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


def _counts(raw: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """prompt, completion, cache read, cache write and reasoning tokens, from the flat counts or
    the provider's usage object."""
    if raw.get("usage") in (None, "") and raw.get("provider") in (None, ""):
        return _within_totals(_flat_counts(raw), _FLAT_PARTS)
    return _within_totals(*_provider_counts(raw))


def _within_totals(
    counts: tuple[int, int, int, int, int], parts: tuple[str, str, str]
) -> tuple[int, int, int, int, int]:
    """`counts`, refusing a part larger than its total (naming the part's field from `parts`)."""
    prompt, completion, read, write, reasoning = counts
    if read > prompt:
        raise _Invalid(parts[0], f"{read} cache reads is more than the {prompt} prompt tokens it is part of")
    if read + write > prompt:
        raise _Invalid(
            parts[1],
            f"cache reads + cache writes ({read} + {write}) is more than the {prompt} prompt tokens they are part of",
        )
    if reasoning > completion:
        raise _Invalid(
            parts[2], f"{reasoning} reasoning tokens is more than the {completion} completion tokens it is part of"
        )
    return counts


def _cost(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise _Invalid("cost", f"must be a decimal number of US dollars, got {value!r}")
    try:
        cost = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise _Invalid("cost", f"must be a decimal number of US dollars, got {value!r}") from None
    if not cost.is_finite() or cost < 0 or cost > MAX_COST:
        raise _Invalid("cost", f"must be a finite amount between 0 and {MAX_COST}, got {value!r}")
    return cost.quantize(_QUANTUM)


_TAG_KEY = re.compile(TAG_KEY_PATTERN)


def _tags(value: Any) -> str | None:
    """The event's tags as canonical JSON text (keys sorted, no spaces), None for none or {}; a CSV
    cell holds the same object as JSON text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _Invalid("tags", "must be a JSON object of string keys and values") from None
    if not isinstance(value, Mapping):
        raise _Invalid("tags", "must be a JSON object of string keys and values")
    if not value:
        return None
    if len(value) > MAX_TAGS:
        raise _Invalid("tags", f"at most {MAX_TAGS} tags per event; got {len(value)}")
    for key, tag in value.items():
        if not isinstance(key, str) or not _TAG_KEY.fullmatch(key):
            raise _Invalid("tags", f"key {str(key)[:50]!r} must match {TAG_KEY_PATTERN}")
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_VALUE or _UNSTORABLE.search(tag):
            raise _Invalid("tags", f"value of {key!r} must be a string of 1 to {MAX_TAG_VALUE} characters without NUL")
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _timestamp(value: Any) -> datetime:
    if value is None or value == "":
        raise _Invalid("timestamp", "is required")
    if not isinstance(value, str) or _UNSTORABLE.search(value):
        raise _Invalid("timestamp", "must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid("timestamp", f"is not an ISO 8601 timestamp: {value!r}") from None
    if ts.tzinfo is None:
        raise _Invalid("timestamp", f"needs a UTC offset or Z: {value!r}")
    if ts.year > 9998:
        raise _Invalid("timestamp", f"is out of range: {value!r}")
    # The year first: converting year 1 with a positive offset to UTC would overflow. PostgreSQL
    # refuses offsets beyond 15:59; UTC it always takes.
    if ts.year < FIRST_INSTANT.year - 1 or (ts := ts.astimezone(UTC)) < FIRST_INSTANT:
        raise _Invalid("timestamp", f"must be at or after {FIRST_INSTANT:%Y-%m-%dT%H:%M:%SZ}, got {value!r}")
    return ts


def parse_event(raw: Any) -> UsageEvent:
    """Validate one raw record (a JSON object or a CSV row); raises _Invalid on the first bad field."""
    if not isinstance(raw, Mapping):
        raise _Invalid("", "must be a JSON object")
    return UsageEvent(
        event_id=_text(raw, "event_id", True, TEXT_LIMITS["event_id"]),
        ts=_timestamp(raw.get("timestamp")),
        agent_id=_text(raw, "agent_id", True, TEXT_LIMITS["agent_id"]),
        agent_name=_text(raw, "agent_name", False, TEXT_LIMITS["agent_name"]),
        conversation_id=_text(raw, "conversation_id", True, TEXT_LIMITS["conversation_id"]),
        conversation_title=_text(raw, "conversation_title", False, TEXT_LIMITS["conversation_title"]),
        model=_text(raw, "model", True, TEXT_LIMITS["model"]),
        prompt_tokens=(counts := _counts(raw))[0],
        completion_tokens=counts[1],
        cost=_cost(raw.get("cost")),
        cache_read_tokens=counts[2],
        cache_write_tokens=counts[3],
        reasoning_tokens=counts[4],
        tags=_tags(raw.get(TAGS_FIELD)),
    )


def _typed_decoder() -> msgspec.json.Decoder:
    """msgspec's decoder of the common record, made from FIELDS: each field of its JSON type within
    its limits, flat counts (provider and usage must be null or absent). Timestamp and cost are
    taken as text (or an integer cost) and checked as parse_event checks them."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, required in FIELDS.items():
        if name in TEXT_LIMITS:
            kind: Any = Annotated[str, msgspec.Meta(min_length=1, max_length=TEXT_LIMITS[name])]
        elif name in TOKEN_COUNTS:
            kind = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
        else:
            kind = {"timestamp": str, "cost": str | int}[name]
        fields.append((name, kind) if required else (name, kind | None, None))
    fields += [(TAGS_FIELD, dict[str, str] | None, None), ("provider", None, None), ("usage", None, None)]
    return msgspec.json.Decoder(msgspec.defstruct("TypedRecord", fields, kw_only=True))


_TYPED = _typed_decoder()


def _typed_event(line: bytes) -> UsageEvent | None:
    """The event of a JSONL line of the common shape, validated mostly in C by msgspec at a fraction
    of parse_event's cost (parsing was most of an import's time); None for any other line, which
    read_jsonl parses and parse_event validates, naming what is wrong. It accepts no line that
    parse_event refuses and makes the same event (tests/unit/test_ingest_parsing.py compares them)."""
    # msgspec skips the fields it does not know without checking their UTF-8; NUL, which PostgreSQL
    # cannot store, can only arrive escaped (a raw control character is not JSON).
    if (b"\\" in line and b"\\u0000" in line) or not (line.isascii() or _is_utf8(line)):
        return None
    try:
        r = _TYPED.decode(line)
        prompt, completion, read, write, reasoning = _within_totals(
            (
                r.prompt_tokens,
                r.completion_tokens,
                r.cache_read_tokens or 0,
                r.cache_write_tokens or 0,
                r.reasoning_tokens or 0,
            ),
            _FLAT_PARTS,
        )
        return UsageEvent(  # by position: an import makes millions
            r.event_id,
            _timestamp(r.timestamp),
            r.agent_id,
            r.agent_name,
            r.conversation_id,
            r.conversation_title,
            r.model,
            prompt,
            completion,
            _cost(r.cost),
            read,
            write,
            reasoning,
            _tags(r.tags),
        )
    except (msgspec.DecodeError, _Invalid, RecursionError):
        return None


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return kind is float
    # A loop, not a call per value: an event's dozen values are checked on every import line.
    for item in value:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and _has_float(item)):
            return True
    return False


def loads_json(text: str | bytes) -> Any:
    """Parse JSON keeping decimals exact (no floats) and refusing NaN and Infinity.

    orjson parses about four times faster than the standard library, but only into floats, so
    a document with a fractional number, and any document orjson refuses (its errors are less
    clear, and it refuses some JSON: integers beyond 64 bits, lone surrogate escapes), is parsed
    again by the standard library with exact decimals."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _has_float(value):
            return value
    try:
        return _DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_jsonl(lines: Iterable[bytes | str], first: int = 1) -> Iterator[tuple[int, Any]]:
    """Yield (line number, UsageEvent or parsed object) per non-blank line, numbered from `first` (a
    part of a file): the event where _typed_event validated the line, else the object for
    parse_event; undecodable lines yield a FieldError."""
    for number, line in enumerate(lines, start=first):
        if isinstance(line, bytes) and (event := _typed_event(line)) is not None:
            yield number, event
            continue
        try:
            if number == 1 and isinstance(line, bytes):
                line = line.decode("utf-8-sig")
            if not line.strip():
                continue
            yield number, loads_json(line)
        except UnicodeDecodeError:
            yield number, FieldError(number, "", "is not valid UTF-8")
        except ValueError as exc:
            yield number, FieldError(number, "", f"is not valid JSON ({exc})")


def read_csv(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Any]]:
    """Yield (line number, row dict) per CSV record; the header row names the fields."""
    decoded = _decode(lines)
    reader = csv.DictReader(decoded, restkey="\0extra")
    try:
        header = reader.fieldnames or []
        missing = [f for f, required in FIELDS.items() if required and f not in header]
        if missing:
            yield 1, FieldError(1, "", f"CSV header lacks column(s): {', '.join(missing)}")
            return
        for row in reader:
            if "\0extra" in row or None in row.values():
                yield (
                    reader.line_num,
                    FieldError(reader.line_num, "", "has a different number of cells than the header"),
                )
            else:
                yield reader.line_num, row
    except (UnicodeDecodeError, csv.Error) as exc:
        yield reader.line_num + 1, FieldError(reader.line_num + 1, "", f"cannot be read as CSV ({exc})")


def _decode(lines: Iterable[bytes | str]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        yield line.decode("utf-8-sig" if number == 1 else "utf-8") if isinstance(line, bytes) else line
