"""Loads the named SQL files of the package's sql/ as statements typed by each file's declarations."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Date, Integer, String, bindparam, text
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.types import NullType, TypeEngine

from .models import READ_BY_REPORTS, USAGE_SUMS, WRITTEN_BY_IMPORT, Money, UTCDateTime, usage_events

QUERY_DIR = resources.files(__package__) / "sql"
# What a file may declare, in comment lines of its own:
#   -- param start: utc      every parameter it takes (list: a list of ids, one parameter per item)
#   -- column cost: money    each result column that needs a type, so both databases give Decimal
#                            money and aware UTC instants (SQLite stores scaled integers and text);
#                            `stored`: deliberately the value as the database stores it
# and placeholders the loader expands, so that lists of columns are declared once, in models.py:
#   {event_columns}              the columns of usage_events, in order
#   {written_tables}             the tables of models.WRITTEN_BY_IMPORT
#   {report_tables}              the tables of models.READ_BY_REPORTS
#   {usage_sums}                 the names of models.USAGE_SUMS: prompt_tokens, completion_tokens, ...
#   {usage_sums_of:d}            d.prompt_tokens, ... (columns of alias d, typed as declared there)
#   {usage_sums_summed:d}        SUM(d.prompt_tokens) AS prompt_tokens, ... (typed the same way)
#   {usage_sums_from_events:n}   SUM(n.prompt_tokens), ..., each what one event row n adds
#   {usage_sums_of_event:e}      e.prompt_tokens AS prompt_tokens, ..., 1 AS message_count, ... (one event row's part)
#   {usage_sums_added:t}         prompt_tokens = t.prompt_tokens + excluded.prompt_tokens, ... (upserts)
#   {usage_sums_copied:d}        d.prompt_tokens, ... and {usage_sums_added_up:d} SUM(d.prompt_tokens), ...:
#                                untyped, for an INSERT ... SELECT from rows that hold the sums already
#   {usage_sums_added_up_as:d}   SUM(d.prompt_tokens) AS prompt_tokens, ...: the same, named (a subquery's)
TYPES: dict[str, TypeEngine[Any]] = {
    "int": Integer(),
    "text": String(),
    "date": Date(),
    "utc": UTCDateTime(),
    "money": Money(),
    "stored": NullType(),
}
_DECLARATION = re.compile(r"--\s*(param|column)\s+(\w+)\s*:\s*(\w+)\s*$")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")
_EXPANSIONS = {
    "event_columns": lambda _: ", ".join(c.name for c in usage_events.columns),
    "written_tables": lambda _: ", ".join(t.name for t in WRITTEN_BY_IMPORT),
    "report_tables": lambda _: ", ".join(t.name for t in READ_BY_REPORTS),
    "usage_sums": lambda _: ", ".join(s.name for s in USAGE_SUMS),
    "usage_sums_of": lambda a: ", ".join(f"{a}.{s.name}" for s in USAGE_SUMS),
    "usage_sums_summed": lambda a: ", ".join(f"SUM({a}.{s.name}) AS {s.name}" for s in USAGE_SUMS),
    "usage_sums_from_events": lambda a: ", ".join(f"SUM({s.per_event.format(e=a)})" for s in USAGE_SUMS),
    "usage_sums_of_event": lambda a: ", ".join(f"{s.per_event.format(e=a)} AS {s.name}" for s in USAGE_SUMS),
    "usage_sums_added": lambda t: ", ".join(f"{s.name} = {t}.{s.name} + excluded.{s.name}" for s in USAGE_SUMS),
    "usage_sums_copied": lambda a: ", ".join(f"{a}.{s.name}" for s in USAGE_SUMS),
    "usage_sums_added_up": lambda a: ", ".join(f"SUM({a}.{s.name})" for s in USAGE_SUMS),
    "usage_sums_added_up_as": lambda a: ", ".join(f"SUM({a}.{s.name}) AS {s.name}" for s in USAGE_SUMS),
}
# Placeholders that put the sums in the result: their money columns are typed as money.
_RESULT_PLACEHOLDERS = {"usage_sums_of", "usage_sums_summed"}
_SUM_TYPES = {Money: "money"}


class QueryError(Exception):
    """An SQL file whose declarations do not match its text."""


def _parse(name: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The SQL of sql/<name>.sql without comments, and its declared parameters and columns."""
    declared: dict[str, dict[str, str]] = {"param": {}, "column": {}}
    sql_lines = []
    for line in (QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            sql_lines.append(line)
        elif match := _DECLARATION.match(stripped):
            kind, field, type_name = match.groups()
            if type_name not in TYPES and not (kind == "param" and type_name == "list"):
                raise QueryError(f"{name}.sql: {kind} {field}: unknown type {type_name!r}")
            declared[kind][field] = type_name

    def expand(match: re.Match) -> str:
        placeholder, argument = match.groups()
        if placeholder not in _EXPANSIONS:
            raise QueryError(f"{name}.sql: unknown placeholder {match.group()}")
        if placeholder in _RESULT_PLACEHOLDERS:
            declared["column"].update((s.name, _SUM_TYPES[s.type]) for s in USAGE_SUMS if s.type in _SUM_TYPES)
        return _EXPANSIONS[placeholder](argument)

    body = _PLACEHOLDER.sub(expand, "\n".join(sql_lines))
    return body, declared["param"], declared["column"]


@cache
def sql(name: str) -> str:
    """The SQL text of sql/<name>.sql, comments removed (for statements given to the driver as text)."""
    return _parse(name)[0]


@cache
def load(name: str, exact_sums: bool = False) -> TextClause | TextualSelect:
    """The statement in sql/<name>.sql, its parameters and columns typed as the file declares.

    `exact_sums` (SQLite only) sums in Python past SQLite's 64-bit integers, where SUM() fails
    with "integer overflow"; slower, so only for the statements that failed (services.billing)."""
    body, params, columns = _parse(name)
    if exact_sums:
        body = re.sub(r"\bSUM\(", "exact_sum(", body)
    stmt = text(body)
    used = set(stmt._bindparams)  # what text() itself read as :name parameters
    if used != set(params):
        raise QueryError(f"{name}.sql: parameters used {sorted(used)} but declared {sorted(params)}")
    stmt = stmt.bindparams(
        *(bindparam(p, expanding=True) if t == "list" else bindparam(p, type_=TYPES[t]) for p, t in params.items())
    )
    return stmt.columns(**{c: TYPES[t] for c, t in columns.items()}) if columns else stmt


ID_CHUNK = 5000  # ids per statement: PostgreSQL takes at most 65,535 parameters


def run_in_chunks(conn: Connection, name: str, ids: list, **params: Any) -> list:
    """The rows of sql/<name>.sql for all `ids` (its `ids` list parameter), a statement per chunk."""
    rows: list = []
    for i in range(0, len(ids), ID_CHUNK):
        rows += conn.execute(load(name), {**params, "ids": ids[i : i + ID_CHUNK]}).all()
    return rows
