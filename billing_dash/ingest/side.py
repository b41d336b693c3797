"""A large PostgreSQL import's side stage: a second connection that stages and groups its events."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.schema import CreateSchema, DropSchema

from ..queries import load

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# Side stages' schemas are SCHEMA_PREFIX and the key of the advisory lock (of LOCK_CLASS) that the
# stage holds while it lives: a schema whose lock is free was left by an import killed outright.
SCHEMA_PREFIX = "billing_import_"
LOCK_CLASS = 0x62696C6C  # "bill"
# How often cancel() asks again: a request that reached the server between two statements of the
# stage's work cancelled nothing.
CANCEL_AGAIN_SECONDS = 0.5


class SideStage:
    """A second connection of a large import (the CLI's bulk import on PostgreSQL): its events are
    staged in unlogged tables of a schema of their own, which the import's transaction reads by
    name (side/search_path_pg), and grouped there on this connection, by another server process,
    while the import's transaction inserts them into usage_events. A temporary table is its
    session's alone, so the whole end of an import ran on one core while the other idled.

    Only the import's transaction writes what users see; this one writes its own schema only, which
    that transaction drops as it ends (or the next side stage, once its key's lock is free)."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        self.dropped = False
        self._work: Future[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-side")
        try:
            self._drop_orphans()
            self.key = self._claim()
            self.schema = f"{SCHEMA_PREFIX}{self.key}"
            self.conn.execute(CreateSchema(self.schema))
            self.conn.commit()
        except BaseException:
            self.conn.invalidate()  # its session ends, and a key's lock with it
            self.conn.close()
            self._thread.shutdown()
            raise

    @classmethod
    def open(cls, engine: Engine) -> SideStage | None:
        """A side stage, or None where the database refuses one (a role that may not create a
        schema): the import then stages and groups in its own transaction, as a small one does."""
        try:
            return cls(engine)
        except DBAPIError as exc:
            log.warning("importing on one connection: no side stage (%s)", str(exc.orig).splitlines()[0])
            return None

    def _drop_orphans(self) -> None:
        for (name,) in self.conn.execute(load("side/schemas_pg")).all():
            key = name.removeprefix(SCHEMA_PREFIX)
            if (
                key.isdigit()
                and self.conn.execute(load("side/orphan_pg"), {"lock_class": LOCK_CLASS, "key": int(key)}).scalar_one()
            ):
                log.info("dropping %s, left by an import killed outright", name)
                self.conn.execute(DropSchema(name, cascade=True))
                self.conn.commit()
        self.conn.commit()

    def _claim(self) -> int:
        while True:  # a key being dropped is drawn again; one in use (one in 2**31) fails CreateSchema
            key = secrets.randbelow(2**31)
            if self.conn.execute(load("side/claim_pg"), {"lock_class": LOCK_CLASS, "key": key}).scalar_one():
                return key

    def begin(self) -> Connection:
        """The connection, in a transaction whose unqualified names find this stage's tables."""
        self.conn.execute(load("side/search_path_pg"), {"schema": self.schema})
        return self.conn

    def hold(self, conn: Connection) -> None:
        """Keep this stage's schema from looking left behind until `conn`'s transaction ends."""
        conn.execute(load("side/hold_pg"), {"lock_class": LOCK_CLASS, "key": self.key})

    def submit(self, work: Callable[[], None]) -> Future[None]:
        """Run `work` (using this connection, and only it) in this stage's thread."""
        self._work = self._thread.submit(work)
        return self._work

    def cancel(self) -> None:
        """Stop this stage's work, the import having failed (Ctrl-C included): its statement is
        cancelled in the server rather than waited for (a 10M-event grouping takes a minute)."""
        work = self._work
        dbapi = cast("psycopg.Connection[object]", self.conn.connection.dbapi_connection)
        while work is not None and not work.done():
            dbapi.cancel_safe()
            wait([work], timeout=CANCEL_AGAIN_SECONDS)

    def drop(self, conn: Connection) -> None:
        """Drop this stage's schema in `conn`'s transaction (the import's, as it succeeds)."""
        conn.execute(DropSchema(self.schema, cascade=True))
        self.dropped = True

    def close(self) -> None:
        """Wait for this stage's work, drop its schema if the import did not (waiting a second at
        most for the import's transaction: the next side stage drops it otherwise), release its
        key and return the connection."""
        self._thread.shutdown(wait=True)
        conn = self.conn
        try:
            conn.rollback()
            if not self.dropped:
                try:
                    conn.execute(load("side/lock_timeout_pg"))
                    self.drop(conn)
                    conn.commit()
                except SQLAlchemyError:
                    conn.rollback()
                    log.info("left %s to the next import to drop", self.schema)
            conn.execute(load("side/release_pg"), {"lock_class": LOCK_CLASS, "key": self.key})
            conn.commit()
        except SQLAlchemyError:  # the import's own outcome matters, not this; the key goes with the session
            log.exception("closing the side stage %s failed", self.schema)
            conn.invalidate()  # not back to the pool with the key's lock
        finally:
            conn.close()
