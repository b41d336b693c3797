"""Loads the named SQL files of the package's sql/ as typed SQLAlchemy statements."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from sqlalchemy import Date, bindparam, text

from .models import Money, UTCDateTime

QUERY_DIR = resources.files(__package__) / "sql"
# Parameters and result columns that need a type so both databases speak UTC instants and Decimal.
_BIND_TYPES = {"start": UTCDateTime(), "end": UTCDateTime(), "full_start": UTCDateTime(),
               "full_end": UTCDateTime(), "span_start": UTCDateTime(),
               "end_span_start": UTCDateTime(), "day_from": Date(), "day_to": Date()}
_RESULT_TYPES = {"cost": Money(), "first_ts": UTCDateTime(), "last_ts": UTCDateTime()}
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=None)
def load(name: str, exact_sums: bool = False):
    """The statement in sql/<name>.sql, with typed parameters and money columns.

    `exact_sums` (SQLite only) sums in Python past SQLite's 64-bit integers, where SUM() fails
    with "integer overflow"; slower, so only for the statements that failed (services.billing)."""
    lines = (QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    # Comment lines go: a ':word' in a comment would otherwise be taken for a parameter.
    sql = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    if exact_sums:
        sql = re.sub(r"\bSUM\(", "exact_sum(", sql)
    stmt = text(sql)
    params = set(_PARAM.findall(sql))
    typed = [bindparam(p, type_=t) for p, t in _BIND_TYPES.items() if p in params]
    if "ids" in params:  # a list, expanded to one parameter per item
        typed.append(bindparam("ids", expanding=True))
    if typed:
        stmt = stmt.bindparams(*typed)
    if "RETURNING" in sql:
        select_list = sql.rsplit("RETURNING", 1)[1]
    elif sql.lstrip().upper().startswith(("SELECT", "WITH")):
        select_list = sql.split("FROM", 1)[0]
    else:
        return stmt
    typed_columns = {c: t for c, t in _RESULT_TYPES.items() if re.search(rf"\b{c}\b", select_list)}
    return stmt.columns(**typed_columns) if typed_columns else stmt
