"""The SQL loader types what each file declares and refuses a file whose declarations disagree with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from billing_dash import queries
from billing_dash.models import Money, UTCDateTime


@pytest.fixture
def query_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(queries, "QUERY_DIR", tmp_path)
    queries.load.cache_clear()
    queries.sql.cache_clear()
    yield tmp_path
    queries.load.cache_clear()
    queries.sql.cache_clear()


def write(folder, name: str, text: str) -> None:
    (folder / f"{name}.sql").write_text(text, encoding="utf-8")


def test_declared_parameters_and_columns_are_typed(query_dir):
    write(
        query_dir,
        "q",
        "-- A comment with :colon words is not a parameter.\n-- param org_id: int\n"
        "-- param start: utc\n-- param ids: list\n-- column cost: money\n-- column first_ts: utc\n"
        "SELECT cost, first_ts, 'x' AS plain FROM t\n"
        "WHERE organization_id = :org_id AND ts >= :start AND id IN :ids",
    )
    stmt = queries.load("q")
    assert {c.name: type(c.type) for c in stmt.selected_columns} == {"cost": Money, "first_ts": UTCDateTime}
    binds = stmt.element._bindparams
    assert isinstance(binds["start"].type, UTCDateTime) and binds["ids"].expanding
    assert ":colon" not in queries.sql("q")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("SELECT 1 FROM t WHERE a = :a", "parameters used ['a'] but declared []"),
        (
            "-- param a: int\n-- param b: int\nSELECT 1 FROM t WHERE a = :a",
            "parameters used ['a'] but declared ['a', 'b']",
        ),
        ("-- param a: integer\nSELECT 1 FROM t WHERE a = :a", "param a: unknown type 'integer'"),
        ("-- column cost: list\nSELECT cost FROM t", "column cost: unknown type 'list'"),
    ],
)
def test_a_file_whose_declarations_disagree_with_it_fails_to_load(query_dir, text, problem):
    write(query_dir, "bad", text)
    with pytest.raises(queries.QueryError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        queries.load("bad")


# An SQL statement starts with one of these words; a Python string that does is SQL outside queries/.
SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|SET|TRUNCATE|CREATE|DROP|ALTER)\s")
PACKAGE = Path(queries.__file__).parent


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_no_sql_strings_outside_the_sql_folder(path):
    """Statements live in queries/ (migrations keep frozen copies of their own), one place each."""
    strings = [
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert [s for s in strings if SQL_START.match(s)] == []


def test_every_sql_file_loads():
    names = [p.relative_to(queries.QUERY_DIR).with_suffix("").as_posix() for p in queries.QUERY_DIR.rglob("*.sql")]
    assert len(names) > 20
    for name in names:
        queries.load(name)


def test_a_new_usage_sum_reaches_every_statement_from_its_declaration(monkeypatch):
    """Adding a kind of tokens is one line in models.USAGE_SUMS (plus its migration)."""
    from sqlalchemy import BigInteger

    from billing_dash.models import USAGE_SUMS, UsageSum

    monkeypatch.setattr(
        queries, "USAGE_SUMS", (*USAGE_SUMS, UsageSum("reasoning_tokens", BigInteger, "{e}.reasoning_tokens"))
    )
    queries.load.cache_clear()
    try:
        # Summed from the events into the import's quarter-hours and conversation days, from those
        # into its days, then from them.
        for name, summed in (
            ("quarters", "SUM(n.reasoning_tokens)"),
            ("quarter", "q.reasoning_tokens"),
            ("conversation_days", "SUM(n.reasoning_tokens)"),
            ("usage_days", "SUM(c.reasoning_tokens)"),
            ("daily", "d.reasoning_tokens"),
            ("day", "SUM(d.reasoning_tokens)"),
        ):
            statement = queries.load(f"aggregate/{name}").text
            assert "reasoning_tokens)" in statement.split("SELECT")[0]  # the inserted columns
            assert summed in statement
            if name not in ("quarters", "conversation_days", "usage_days"):
                assert re.search(
                    r"reasoning_tokens = usage_\w+\.reasoning_tokens \+ excluded\.reasoning_tokens", statement
                )
        assert "SUM(q.reasoning_tokens) AS reasoning_tokens" in queries.load("daily").element.text
        assert "d.reasoning_tokens" in queries.load("daily_org_zone").element.text
    finally:
        queries.load.cache_clear()
