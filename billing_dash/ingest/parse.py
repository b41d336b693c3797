"""Usage ingestion: parse and validate events, price them, and store them atomically and idempotently."""

from __future__ import annotations

import csv
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..aggregates import EventWriter, TotalTooLarge
from ..models import MONEY_SCALE, agents, conversations, model_prices, organizations

MAX_ID = 200
# Limits per event that no real LLM call reaches (the largest context windows hold ~2M tokens)
# but that leave sums room: see README, "Limits".
MAX_TOKENS = 10**9
# Whether given or computed from the price table.
MAX_COST = Decimal(10) ** 6
MAX_ERRORS = 50
# The earliest event: from then on every zone's offset is a whole number of quarter hours (the last
# that was not, Pacific/Kiritimati's -10:40, ended in October 1979), so usage_quarter sums exactly
# into the local days of any zone (tests/unit/test_quarter_hours.py proves it from zoneinfo).
FIRST_INSTANT = datetime(1980, 1, 1, tzinfo=timezone.utc)
BATCH_SIZE = 20000  # events per round trip: larger batches amortize statement overhead
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MILLION = Decimal(1_000_000)

FIELDS = ("event_id", "timestamp", "agent_id", "agent_name", "conversation_id",
          "conversation_title", "model", "prompt_tokens", "completion_tokens", "cost")


@dataclass(frozen=True)
class FieldError:
    """One problem with one input record; `where` is 'line 7' or 'event 3'."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}" if self.field else f"{self.where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "field": self.field, "message": self.message}


class IngestError(ValueError):
    """The input had errors; nothing was written."""

    def __init__(self, errors: list[FieldError], truncated: bool = False) -> None:
        self.errors = errors
        self.truncated = truncated
        more = " (and more; fix these first)" if truncated else ""
        super().__init__(f"{len(errors)} invalid record(s){more}: " + "; ".join(map(str, errors[:5])))


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


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    skipped: int
    unpriced: int

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "skipped": self.skipped, "unpriced": self.unpriced}


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


# NUL cannot be stored by PostgreSQL, and a lone surrogate is not text at all (it cannot be encoded).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


def _cost(raw: Mapping[str, Any]) -> Decimal | None:
    value = raw.get("cost")
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


def _timestamp(raw: Mapping[str, Any]) -> datetime:
    value = raw.get("timestamp")
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
    # The year first: converting year 1 with a positive offset to UTC would overflow.
    if ts.year < FIRST_INSTANT.year - 1 or ts.astimezone(timezone.utc) < FIRST_INSTANT:
        raise _Invalid("timestamp", f"must be at or after {FIRST_INSTANT:%Y-%m-%dT%H:%M:%SZ}, got {value!r}")
    return ts.astimezone(timezone.utc)  # PostgreSQL refuses offsets beyond 15:59, UTC it always takes


def parse_event(raw: Any) -> UsageEvent:
    """Validate one raw record (a JSON object or a CSV row); raises _Invalid on the first bad field."""
    if not isinstance(raw, Mapping):
        raise _Invalid("", "must be a JSON object")
    return UsageEvent(
        event_id=_text(raw, "event_id", True, MAX_ID),
        ts=_timestamp(raw),
        agent_id=_text(raw, "agent_id", True, MAX_ID),
        agent_name=_text(raw, "agent_name", False, 500),
        conversation_id=_text(raw, "conversation_id", True, MAX_ID),
        conversation_title=_text(raw, "conversation_title", False, 1000),
        model=_text(raw, "model", True, MAX_ID),
        prompt_tokens=_tokens(raw, "prompt_tokens"),
        completion_tokens=_tokens(raw, "completion_tokens"),
        cost=_cost(raw),
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return any(map(_has_float, value.values()))
    if kind is list:
        return any(map(_has_float, value))
    return kind is float


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


def read_jsonl(lines: Iterable[bytes | str]) -> Iterator[tuple[str, Any]]:
    """Yield ('line N', parsed object) per non-blank line; undecodable lines yield a FieldError."""
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            if number == 1 and isinstance(line, bytes):
                line = line.decode("utf-8-sig")
            if not line.strip():
                continue
            yield where, loads_json(line)
        except UnicodeDecodeError:
            yield where, FieldError(where, "", "is not valid UTF-8")
        except ValueError as exc:
            yield where, FieldError(where, "", f"is not valid JSON ({exc})")


def read_csv(lines: Iterable[bytes | str]) -> Iterator[tuple[str, Any]]:
    """Yield ('line N', row dict) per CSV record; the header row names the fields."""
    decoded = _decode(lines)
    reader = csv.DictReader(decoded, restkey="\0extra")
    try:
        header = reader.fieldnames or []
        missing = [f for f in ("event_id", "timestamp", "agent_id", "conversation_id", "model",
                               "prompt_tokens", "completion_tokens") if f not in header]
        if missing:
            yield "line 1", FieldError("line 1", "", f"CSV header lacks column(s): {', '.join(missing)}")
            return
        for row in reader:
            where = f"line {reader.line_num}"
            if "\0extra" in row or None in row.values():
                yield where, FieldError(where, "", "has a different number of cells than the header")
            else:
                yield where, row
    except (UnicodeDecodeError, csv.Error) as exc:
        where = f"line {reader.line_num + 1}"
        yield where, FieldError(where, "", f"cannot be read as CSV ({exc})")


def _decode(lines: Iterable[bytes | str]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        yield line.decode("utf-8-sig" if number == 1 else "utf-8") if isinstance(line, bytes) else line


class PriceBook:
    """Model prices by effective date, loaded once per import."""

    def __init__(self, conn: Connection) -> None:
        self._prices: dict[str, tuple[list[datetime], list[tuple[Decimal, Decimal]]]] = {}
        rows = conn.execute(select(model_prices).order_by(model_prices.c.model, model_prices.c.effective_from))
        for row in rows:
            starts, prices = self._prices.setdefault(row.model, ([], []))
            starts.append(row.effective_from)
            prices.append((row.prompt_per_million, row.completion_per_million))

    def cost(self, model: str, ts: datetime, prompt: int, completion: int) -> Decimal | None:
        """The cost at the price in effect at `ts`, or None when the model had no price then."""
        entry = self._prices.get(model)
        if entry is None:
            return None
        i = bisect_right(entry[0], ts) - 1
        if i < 0:
            return None
        per_prompt, per_completion = entry[1][i]
        return ((prompt * per_prompt + completion * per_completion) / _MILLION).quantize(_QUANTUM)


def _insert(conn: Connection, table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _upsert_names(conn: Connection, org_id: int, stored: list[UsageEvent]) -> None:
    """Create the agents and conversations of events just stored, and apply their names.

    One rule, whatever the order events arrive in: an agent's name and a conversation's title
    come from the newest stored event (by timestamp) that gives one, a conversation's agent from
    its newest stored event; of events with the same timestamp, the one stored last wins. Only
    stored events count, so a re-sent or skipped event can never rename anything.
    """
    names: dict[str, tuple[datetime, str] | None] = {}
    owners: dict[str, tuple[datetime, str]] = {}
    titles: dict[str, tuple[datetime, str]] = {}
    for e in stored:
        if e.agent_name is None:
            names.setdefault(e.agent_id, None)
        elif (known := names.get(e.agent_id)) is None or e.ts >= known[0]:
            names[e.agent_id] = (e.ts, e.agent_name)
        if (owner := owners.get(e.conversation_id)) is None or e.ts >= owner[0]:
            owners[e.conversation_id] = (e.ts, e.agent_id)
        if e.conversation_title is not None and (
                (title := titles.get(e.conversation_id)) is None or e.ts >= title[0]):
            titles[e.conversation_id] = (e.ts, e.conversation_title)

    # Sorted: concurrent imports then lock shared rows in the same order and cannot deadlock.
    rows = [{"organization_id": org_id, "id": a, "name": n[1] if n else a, "name_ts": n[0] if n else None}
            for a, n in sorted(names.items())]
    if rows:
        stmt = _insert(conn, agents)
        newer = agents.c.name_ts.is_(None) | (stmt.excluded.name_ts >= agents.c.name_ts)
        # Rows without a name only make sure the agent exists; the WHERE skips unchanged rows,
        # which would otherwise cost PostgreSQL a dead row version each.
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["organization_id", "id"],
            set_={"name": stmt.excluded.name, "name_ts": stmt.excluded.name_ts},
            where=stmt.excluded.name_ts.is_not(None) & newer), rows)
    rows = []
    for c, (ts, agent) in sorted(owners.items()):
        title_ts, title = titles.get(c, (None, c))
        rows.append({"organization_id": org_id, "id": c, "agent_id": agent, "agent_ts": ts,
                     "title": title, "title_ts": title_ts})
    if rows:
        stmt = _insert(conn, conversations)
        new = stmt.excluded
        owner_newer = conversations.c.agent_ts.is_(None) | (new.agent_ts >= conversations.c.agent_ts)
        title_newer = new.title_ts.is_not(None) & (
            conversations.c.title_ts.is_(None) | (new.title_ts >= conversations.c.title_ts))
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["organization_id", "id"],
            set_={"agent_id": case((owner_newer, new.agent_id), else_=conversations.c.agent_id),
                  "agent_ts": case((owner_newer, new.agent_ts), else_=conversations.c.agent_ts),
                  "title": case((title_newer, new.title), else_=conversations.c.title),
                  "title_ts": case((title_newer, new.title_ts), else_=conversations.c.title_ts)},
            where=owner_newer | title_newer), rows)


def _rows(org_id: int, batch: list[UsageEvent]) -> tuple[list[tuple], list[UsageEvent]]:
    """usage_events rows of a batch (tuples in column order) and the events they come from; of two
    equal ids in one batch the first wins, as across batches."""
    rows: dict[str, tuple] = {}
    kept: list[UsageEvent] = []
    zero = Decimal(0)
    for e in batch:
        if e.event_id in rows:
            continue
        rows[e.event_id] = (org_id, e.event_id, e.ts, e.agent_id, e.conversation_id, e.model, e.prompt_tokens,
                            e.completion_tokens, zero if e.cost is None else e.cost, e.cost is not None)
        kept.append(e)
    return list(rows.values()), kept


def _priced(event: UsageEvent, prices: PriceBook) -> UsageEvent:
    """The event with its cost; None stays only when its model had no price at its time."""
    if event.cost is not None:
        return event
    cost = prices.cost(event.model, event.ts, event.prompt_tokens, event.completion_tokens)
    if cost is None:
        return event
    if cost > MAX_COST:
        raise _Invalid("cost", f"computed from the model's price is {cost}, more than the {MAX_COST} "
                               "an event may cost")
    return event._replace(cost=cost)


def _parsed_batches(records: Iterable[tuple[str, Any]], batch_size: int, errors: list[FieldError],
                    prices: PriceBook) -> Iterator[tuple[list[UsageEvent], list[str]]]:
    """Validated and priced events in batches, with where each came from. Invalid records go to
    `errors`; once there is one, batches stop (nothing will be written) but reading goes on to
    report more errors."""
    batch: list[UsageEvent] = []
    wheres: list[str] = []
    for where, raw in records:
        if isinstance(raw, FieldError):
            errors.append(raw)
        else:
            try:
                event = _priced(parse_event(raw), prices)
            except _Invalid as bad:
                errors.append(FieldError(where, bad.field, bad.message))
            else:
                if not errors:
                    batch.append(event)
                    wheres.append(where)
        if len(errors) >= MAX_ERRORS:
            raise IngestError(errors, truncated=True)
        if len(batch) >= batch_size:
            yield batch, wheres
            batch, wheres = [], []
    if errors:
        raise IngestError(errors)
    if batch:
        yield batch, wheres


def ingest(
    conn: Connection,
    org_id: int,
    records: Iterable[tuple[str, Any]],
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """Validate and store `records` inside the caller's transaction.

    Raises IngestError listing the bad records if any record is invalid; the caller's
    transaction must then roll back, so a bad file writes nothing. Reading and validating the
    next batch runs in a second thread while the database stores the current one.
    """
    prices = PriceBook(conn)
    # One import at a time per organization, as SQLite's single writer does anyway: two imports
    # adding batches in different orders would otherwise lock each other's rows and deadlock.
    # SQLite: a write first, so the import holds the write lock from its start (had it read
    # first, its first write after another import's commit would fail with "database is locked").
    if conn.dialect.name == "sqlite":
        conn.execute(update(organizations).where(organizations.c.id == org_id)
                     .values(timezone=organizations.c.timezone))
    tz = conn.execute(select(organizations.c.timezone).where(organizations.c.id == org_id)
                      .with_for_update()).scalar_one()
    writer = EventWriter(conn, org_id, tz)
    errors: list[FieldError] = []
    batches = _parsed_batches(records, batch_size, errors, prices)

    def next_batch() -> tuple[list[UsageEvent], list[str], list[tuple], list[UsageEvent]] | None:
        item = next(batches, None)
        return None if item is None else (*item, *_rows(org_id, item[0]))

    seen = inserted = unpriced = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse") as parser:
        upcoming = parser.submit(next_batch)
        while (item := upcoming.result()) is not None:
            upcoming = parser.submit(next_batch)
            events, wheres, rows, kept = item
            seen += len(events)
            try:
                done, unpriced_now = writer.write(rows)
            except TotalTooLarge as exc:
                where = next(w for e, w in zip(events, wheres) if e.event_id == exc.event_id)
                raise IngestError([FieldError(where, "cost", exc.message)]) from None
            if done < len(kept):  # some were stored before: only the new ones may name things
                stored_ids = writer.stored_ids()
                kept = [e for e in kept if e.event_id in stored_ids]
            _upsert_names(conn, org_id, kept)
            inserted += done
            unpriced += unpriced_now
    writer.close()
    return IngestResult(inserted=inserted, skipped=seen - inserted, unpriced=unpriced)
