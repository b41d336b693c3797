"""Stores validated, priced events in batches, atomically and idempotently; aggregates and names them once."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..aggregates import CopyRows, EventWriter, TooManyTagValues, TotalTooLarge, copy_rows
from ..models import organizations
from ..pricing import PriceBook, cache_savings_at, cost_at
from ..queries import load
from .parse import MAX_COST, MAX_ERRORS, FieldError, IngestError, UsageEvent, _Invalid, parse_event, read_jsonl
from .side import SideStage

log = logging.getLogger(__name__)

BATCH_SIZE = 20000  # events per round trip: larger batches amortize statement overhead
# An import storing at least this many events analyzes the tables it wrote once it has committed:
# without fresh statistics the next report is planned for the tables as they were before it (a
# year's report took twice as long straight after a 200k-event import as after ANALYZE). Below it
# the statistics barely move, and the API's small batches must not pay a scan of every table each:
# they analyze only what writes have left stale (analyze_stale).
ANALYZE_MIN_EVENTS = 10_000


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    skipped: int
    unpriced: int
    # Models of the inserted events that had no price, with how many events each.
    unpriced_models: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"inserted": self.inserted, "skipped": self.skipped, "unpriced": self.unpriced}
        if self.unpriced_models:  # only then, so that the answer of a fully priced batch stays as it was
            body["unpricedModels"] = [{"model": m, "messages": n} for m, n in sorted(self.unpriced_models.items())]
        return body

    def unpriced_line(self) -> str:
        """What the import says about its unpriced events (empty when there are none)."""
        if not self.unpriced:
            return ""
        names = ", ".join(f"{m} ({n})" for m, n in sorted(self.unpriced_models.items()))
        return f"{self.unpriced} unpriced (no price for their model): {names}"


def _staged_row(org_id: int, e: UsageEvent, position: int, prices: PriceBook) -> tuple:
    """The staged row of a validated event (aggregates.STAGED_COLUMNS in order), priced: a cost not
    given is computed at the model's price at the event's time, and the price charged is recorded;
    without a price then the event stays unpriced (cost 0, `priced` false). A given cost stays as
    sent, but its cache savings still come from the price: the caller's cost does not say what the
    cache saved."""
    cost, savings, charge = e.cost, _ZERO, None
    if cost is None or e.cache_read_tokens:
        charge = prices.charge(e.model, e.ts)
    if charge is not None:
        savings = cache_savings_at(charge.price, e.cache_read_tokens)
        if abs(savings) > MAX_COST:
            raise _Invalid(
                "cache_read_tokens", f"save {savings} at the model's price, more than the {MAX_COST} an event may cost"
            )
        if cost is None:
            cost = cost_at(
                charge.price, e.prompt_tokens, e.completion_tokens, e.cache_read_tokens, e.cache_write_tokens
            )
            if cost > MAX_COST:
                raise _Invalid(
                    "cost", f"computed from the model's price is {cost}, more than the {MAX_COST} an event may cost"
                )
        else:
            charge = None  # the cost was given, not charged
    return (
        org_id,
        e.event_id,
        e.ts,
        e.agent_id,
        e.conversation_id,
        e.model,
        e.prompt_tokens,
        e.completion_tokens,
        _ZERO if cost is None else cost,
        cost is not None,
        e.cost is not None,
        None if charge is None else charge.priced_as,
        None if charge is None else charge.price_id,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.reasoning_tokens,
        savings,
        e.tags,
        position,
        e.agent_name,
        e.conversation_title,
    )


_ZERO = Decimal(0)


def _staged_batches(
    org_id: int, records: Iterable[tuple[int, Any]], batch_size: int, errors: list[FieldError], prices: PriceBook
) -> Iterator[tuple[int, list[tuple]]]:
    """Validated events' staged rows (_staged_row) in batches, with how many valid events each
    batch saw (of two equal ids in one batch only the first is staged, as across batches).
    Invalid records go to `errors`; once there is one, batches stop (nothing will be written) but
    reading goes on to report more errors."""
    rows: dict[str, tuple] = {}
    seen = 0
    for position, raw in records:
        if isinstance(raw, FieldError):
            errors.append(raw)
        else:
            try:
                # read_jsonl and OTLP give events validated already; other records are parsed here.
                event = raw if type(raw) is UsageEvent else parse_event(raw)
                row = _staged_row(org_id, event, position, prices)
            except _Invalid as bad:
                errors.append(FieldError(position, bad.field, bad.message))
            else:
                if not errors:
                    seen += 1
                    rows.setdefault(event.event_id, row)
        if len(errors) >= MAX_ERRORS:
            raise IngestError(errors, truncated=True)
        if seen >= batch_size:
            yield seen, list(rows.values())
            rows, seen = {}, 0
    if errors:
        raise IngestError(errors)
    if seen:
        yield seen, list(rows.values())


def ingest(
    conn: Connection,
    org_id: int,
    records: Iterable[tuple[int, Any]],
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """Validate and store `records` (position, raw record or a UsageEvent validated already) inside
    the caller's transaction.

    Raises IngestError listing the bad records if any record is invalid; the caller's
    transaction must then roll back, so a bad file writes nothing. Reading and validating the
    next batch runs in a second thread while the database takes the current one (PostgreSQL
    stages it; EventWriter.finish stores, aggregates and names the whole import at its end);
    records in a list (a request's) are validated in this thread.
    Positions must be unique ints: they order the import's events (names' ties, error lines).
    """
    if isinstance(records, list):
        # Held in memory (an API or OTLP batch): priced from the catalogue rows of its models only,
        # and in this thread (a price book reading more of them reads on this connection).
        prices = PriceBook(conn, org_id, models=_model_names(records))
        return _store(conn, org_id, _staged_batches(org_id, records, batch_size, [], prices))
    batches = _staged_batches(org_id, records, batch_size, [], PriceBook(conn, org_id))

    def staged() -> Iterator[tuple[int, list[tuple]]]:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse") as parser:
            upcoming = parser.submit(next, batches, None)
            while (item := upcoming.result()) is not None:
                upcoming = parser.submit(next, batches, None)
                yield item

    return _store(conn, org_id, staged())


def _model_names(records: list[tuple[int, Any]]) -> set[str]:
    """The model names of `records` as validation keeps them (a name that validation would make
    differently only costs the price book a read of the whole catalogue)."""
    names = set()
    for _, raw in records:
        model = raw.model if type(raw) is UsageEvent else raw.get("model") if isinstance(raw, dict) else None
        if isinstance(model, str):
            names.add(model)
    return names


def ingest_jsonl(conn: Connection, org_id: int, lines: Iterable[bytes], workers: int) -> IngestResult:
    """`ingest` of JSONL `lines` (a file's, numbered from 1), parsed, priced and formatted for COPY
    by `workers` processes while this one sends their chunks, in order, to PostgreSQL (SQLite, or
    one worker: `ingest`). The same result, errors and atomicity as `ingest`: parsing was the
    import's largest cost, and one process's threads take turns under the GIL."""
    if workers < 2 or conn.dialect.name != "postgresql":
        return ingest(conn, org_id, read_jsonl(lines))
    prices = PriceBook(conn, org_id)
    errors: list[FieldError] = []

    def staged() -> Iterator[tuple[int, CopyRows]]:
        # spawn: a forked child would inherit this process's database connection and threads.
        pool = ProcessPoolExecutor(
            workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(org_id, prices, os.getpid()),
        )
        _start_deaf_to_ctrl_c(pool, workers)
        pending: deque[Future[tuple[int, CopyRows | None, list[FieldError]]]] = deque()

        def oldest() -> Iterator[tuple[int, CopyRows]]:
            seen, rows, found = pending.popleft().result()
            errors.extend(found)
            if len(errors) >= MAX_ERRORS:
                raise IngestError(errors[:MAX_ERRORS], truncated=True)
            if rows is not None and not errors:
                yield seen, rows

        try:
            for first, chunk in _chunks(lines, CHUNK_LINES):
                pending.append(pool.submit(_stage_lines, first, chunk))
                # A few chunks ahead: each worker has the next at hand, memory stays bounded.
                if len(pending) > 2 * workers:
                    yield from oldest()
            while pending:
                yield from oldest()
        finally:
            pool.shutdown(cancel_futures=True)
        if errors:
            raise IngestError(errors)

    return _store(conn, org_id, staged(), side=True)


CHUNK_LINES = 10_000  # lines per task of ingest_jsonl's workers
PARENT_CHECK_SECONDS = 1.0  # how often a worker checks that its importing process lives
# The price book and organization of this worker process of ingest_jsonl, set once by the pool's
# initializer (the catalogue is too large to send with each chunk); unused elsewhere.
_worker: tuple[int, PriceBook] | None = None


def _start_worker(org_id: int, prices: PriceBook, parent: int) -> None:
    global _worker
    _worker = org_id, prices
    gc.disable()  # as the importing process does (cli._import): the parsed objects are acyclic
    threading.Thread(target=_exit_with_parent, args=(parent,), name="ingest-parent", daemon=True).start()


def _start_deaf_to_ctrl_c(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start the pool's processes now, each with SIGINT blocked from its first instruction on (a
    child inherits its parent thread's signal mask). A terminal's Ctrl-C reaches the whole process
    group; it is the importing process's to handle (it shuts the pool down), and a worker it
    reached printed a traceback, most often while still importing its modules. Blocked, not
    ignored, here: a Ctrl-C meanwhile is delivered once the mask is back, not lost."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    try:
        # Each submit starts a process while none is idle yet (one takes a second to start).
        for _ in range(workers):
            pool.submit(os.getpid)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _exit_with_parent(parent: int) -> None:
    """End this worker once the importing process is gone: killed (SIGKILL, the OOM killer), it
    cannot shut its pool down, and its idle workers lived on, holding their memory."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _stage_lines(first: int, lines: list[bytes]) -> tuple[int, CopyRows | None, list[FieldError]]:
    """One chunk in a worker: (valid events, their staged rows as COPY data or None, errors)."""
    assert _worker is not None, "run by ingest_jsonl's pool only"
    org_id, prices = _worker
    errors: list[FieldError] = []
    try:
        batches = list(_staged_batches(org_id, read_jsonl(lines, first), len(lines) + 1, errors, prices))
    except IngestError:  # `errors` has them
        return 0, None, errors
    if not batches:  # blank lines only
        return 0, None, []
    seen, rows = batches[0]
    return seen, copy_rows(rows), []


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(number of its first line, lines) per `size` lines."""
    chunk: list[bytes] = []
    first = 1
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield first, chunk
            first += size
            chunk = []
    if chunk:
        yield first, chunk


def _store(
    conn: Connection,
    org_id: int,
    staged: Iterator[tuple[int, list[tuple]] | tuple[int, CopyRows]],
    side: bool = False,
) -> IngestResult:
    """Lock the organization, stage what `staged` yields (valid events seen, their rows), then
    store, aggregate and name it all (EventWriter.finish); `side` (PostgreSQL, a large import):
    stage and group on a second connection (SideStage)."""
    # One import at a time per organization, as SQLite's single writer does anyway: two imports
    # adding batches in different orders would otherwise lock each other's rows and deadlock.
    # SQLite: a write first, so the import holds the write lock from its start (had it read
    # first, its first write after another import's commit would fail with "database is locked").
    if conn.dialect.name == "sqlite":
        conn.execute(
            update(organizations).where(organizations.c.id == org_id).values(timezone=organizations.c.timezone)
        )
    tz = conn.execute(
        select(organizations.c.timezone).where(organizations.c.id == org_id).with_for_update()
    ).scalar_one()
    stage = SideStage.open(conn.engine) if side else None
    try:
        # With a side stage, in a savepoint: a failed import's rollback to it releases the side
        # tables this transaction read, so that stage.close() can drop them at once.
        with conn.begin_nested() if stage is not None else nullcontext():
            writer = EventWriter(conn, org_id, tz, stage)
            seen = 0
            for size, rows in staged:
                seen += size
                writer.write(rows)
            try:
                inserted, unpriced, unpriced_models = writer.finish()
            except TotalTooLarge as exc:
                raise IngestError([FieldError(exc.position, exc.field, exc.message)]) from None
            except TooManyTagValues as exc:
                raise IngestError([FieldError(exc.position or 0, "tags", exc.message)]) from None
            writer.close()
    except BaseException:
        if stage is not None:
            stage.cancel()
        raise
    finally:
        if stage is not None:
            stage.close()
    return IngestResult(inserted, seen - inserted, unpriced, dict(unpriced_models))


def analyze_after_writing(engine: Engine, events: int) -> None:
    """Refresh the planner's statistics after a write has committed, in a transaction of its own
    (the write's locks are released by then): all the tables an import writes after one of at
    least ANALYZE_MIN_EVENTS events (an import, a rebuild of the aggregates, a re-pricing), else
    those that writes have left stale (analyze_stale)."""
    if events >= ANALYZE_MIN_EVENTS:
        refresh_statistics(engine)
    elif events:
        analyze_stale(engine)


def analyze_stale(engine: Engine) -> None:
    """PostgreSQL: ANALYZE the tables an import writes whose statistics writes have left stale
    (sql/analyze_stale_pg), after the API's and OTLP's batches too. Never raises: the events are
    stored, and the next write checks again."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(load("analyze_stale_pg"))
    except SQLAlchemyError:
        log.exception("analyzing the tables that writes left stale failed; the next write retries")


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE the tables an import writes (SQLite: all of them); PostgreSQL also vacuums those that
    reports read, so that reads find them as settled as autovacuum would leave them (sql/analyze_pg)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(load("analyze_pg"))
            conn.execute(load("analyze_events_pg"))
        return
    with engine.begin() as conn:
        conn.execute(load("analysis_limit_sqlite"))
        conn.execute(load("analyze_sqlite"))
